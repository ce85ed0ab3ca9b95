package reconcile

import "time"

// Class is where one record landed.
type Class string

const (
	Matched     Class = "matched"      // the same call on both sides
	Mismatched  Class = "mismatched"   // the same request id, but key, operation or outcome differ
	KeygateOnly Class = "keygate-only" // keygate called KMS; CloudTrail has no record past its delivery delay
	Pending     Class = "pending"      // keygate-only, but still inside the delivery delay: not a finding
	Bypass      Class = "bypass"       // a key keygate manages used without keygate
	Unmanaged   Class = "unmanaged"    // KMS activity on keys keygate does not manage
	// Internal is keygate's own role reading key metadata (DescribeKey,
	// GetPublicKey...) while opening keys, which keygate does not audit
	// call by call, or making the key of a KMS import within an audited
	// GetParametersForImport. Counted, not a finding.
	Internal Class = "keygate-internal"
	// Unlogged is a failed keygate call with no CloudTrail record:
	// CloudTrail records only some failures. Counted, not a finding.
	Unlogged Class = "failure-not-logged"
	// Unreadable is a trail file or record that could not be read or
	// joined (not gzip JSON, no requestID). Counted and listed; the run
	// goes on.
	Unreadable Class = "unreadable"
)

// IsFinding reports whether a record of this class fails the run.
func (c Class) IsFinding() bool {
	return c == Mismatched || c == KeygateOnly || c == Bypass
}

// Finding is one record worth a person's attention (and, with AllKeys, the
// unmanaged ones).
type Finding struct {
	Class     Class     `json:"class"`
	Time      time.Time `json:"time"`
	Operation string    `json:"operation"` // KMS operation, e.g. "Sign"
	KeyName   string    `json:"key_name,omitempty"`
	KeyARN    string    `json:"key_arn,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	EventID   string    `json:"event_id,omitempty"` // CloudTrail's
	Seq       uint64    `json:"seq,omitempty"`      // keygate's audit event
	Principal string    `json:"principal,omitempty"`
	// The CloudTrail caller.
	Identity      string   `json:"identity,omitempty"`
	SourceIP      string   `json:"source_ip,omitempty"`
	VPCEndpointID string   `json:"vpc_endpoint_id,omitempty"`
	UserAgent     string   `json:"user_agent,omitempty"`
	ErrorCode     string   `json:"error_code,omitempty"`
	Fields        []string `json:"fields,omitempty"` // mismatched: which ones
	Reason        string   `json:"reason"`
}

// Problem is one unreadable file or record.
type Problem struct {
	Where string `json:"where"`
	Why   string `json:"why"`
}

// KeyUse is a key without CloudTrail (PKCS#11) and its calls in the window.
type KeyUse struct {
	Name    string `json:"name"`
	Backend string `json:"backend"`
	Calls   int    `json:"calls"`
}

// Report is one reconciliation run.
type Report struct {
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Source string    `json:"source"`
	// Counts has every class, zero or not.
	Counts       map[Class]int `json:"counts"`
	Findings     []Finding     `json:"findings"`      // bypass, keygate-only, mismatched
	Pending      []Finding     `json:"pending"`       // inside the delivery delay
	Unmanaged    []Finding     `json:"unmanaged"`     // only with Options.AllKeys
	Unreadable   []Problem     `json:"unreadable"`    // the first maxProblems
	NoCloudTrail []KeyUse      `json:"no_cloudtrail"` // PKCS#11 keys
	KeygateRoles []string      `json:"keygate_roles"` // the identities taken as keygate's own
	KMSRequests  []Usage       `json:"kms_requests"`  // matched calls by key and operation
}

// Usage counts KMS requests of one operation on one key.
type Usage struct {
	KeyName   string `json:"key_name"`
	KeyARN    string `json:"key_arn"`
	Operation string `json:"operation"`
	Requests  int    `json:"requests"`
}

// Failed reports whether the run found a bypass, a keygate-only call or a
// mismatch.
func (r *Report) Failed() bool {
	for c, n := range r.Counts {
		if c.IsFinding() && n > 0 {
			return true
		}
	}
	return false
}

// maxProblems bounds the unreadable list (the count is always whole).
const maxProblems = 1000

// Classes lists every class in report order.
var Classes = []Class{Bypass, KeygateOnly, Mismatched, Pending, Matched, Internal, Unlogged, Unmanaged, Unreadable}
