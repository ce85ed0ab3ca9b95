package audit

import "time"

// Kind says what an event records: a call to a key, or an administrative
// change. The names are part of the canonical encoding: never rename one.
type Kind string

const (
	KindCall          Kind = "call"                 // a crypto or key call, allowed or denied
	KindKeyCreated    Kind = "key.created"          // a key or key version was created
	KindKeyEnabled    Kind = "key.enabled"          // a key version was enabled or activated
	KindKeyDisabled   Kind = "key.disabled"         // a key version was disabled, retired or scheduled for deletion
	KindPolicyChanged Kind = "policy.changed"       // a key policy was replaced
	KindCertImported  Kind = "certificate.imported" // a certificate chain was imported for a key version
	KindKeyDestroyed  Kind = "key.destroyed"        // a key version's backend key was destroyed
	KindServerStarted Kind = "server.started"
	KindServerStopped Kind = "server.stopped"
	KindAuditRead     Kind = "audit.read"       // someone queried, exported or verified the audit log
	KindReconciled    Kind = "audit.reconciled" // keygated reconciled the log with CloudTrail (Detail: the counts)
	KindAuditResumed  Kind = "audit.resumed"    // the log commits again after an outage (Detail: calls refused unrecorded, since when)
	KindClockJumped   Kind = "clock.jumped"     // the wall clock jumped against the monotonic clock (Detail: by how much)
	// KindHandshakeFailed aggregates the TLS handshakes refused from one
	// source for one reason over an interval (Detail: count, first, last).
	KindHandshakeFailed Kind = "tls.handshake_failed"
	// KindAuditPruned records an audit prune before it deletes (Detail:
	// the range, who, the archive that covers it).
	KindAuditPruned Kind = "audit.pruned"
	// KindConfigLoaded records the effective configuration at a start or
	// reload (Detail: its digest, the principal and role sets, the diff).
	KindConfigLoaded Kind = "config.loaded"
)

// ResultOK is the Result of a call that succeeded; a failed call carries
// the gRPC code name ("PermissionDenied", "Unavailable"...).
const ResultOK = "OK"

// Event is one audit record. It holds who, what, when, where from, on which
// key and with what outcome (PCI DSS 10.2.2), and never plaintext, key
// material, PINs or card data: encryption context values appear only as
// keyed hashes (see Log.HashContext).
//
// The caller fills the descriptive fields; Log.Record sets Seq, PrevHash
// and Hash, and Time when it is zero.
type Event struct {
	Seq      uint64   // position in the chain, from 1; set by the log
	PrevHash [32]byte // hash of event Seq-1 (zero for the first); set by the log
	Hash     [32]byte // SHA-256 of this event's canonical encoding; set by the log

	Time    time.Time // when the call was made; stored as UTC nanoseconds
	Kind    Kind
	Replica string // id of the keygated replica that handled the call

	Principal   string // principal ARN the certificate was mapped to
	CertSubject string // client certificate subject (RFC 2253)
	CertSerial  string // client certificate serial, hex
	CertURI     string // client certificate URI SAN (SPIFFE id), if any
	Peer        string // peer address host:port

	Action           string // "kms:Sign", "kms:Decrypt", "keygate:CreateKey"...
	KeyName          string
	KeyVersion       uint32
	BackendKeyID     string // KMS key ARN or PKCS#11 CKA_ID
	BackendRequestID string // KMS x-amzn-RequestId: CloudTrail's requestID
	Algorithm        string // signing, encryption or MAC algorithm

	// Decision is the policy decision: "Allow", "Deny" (an explicit Deny
	// matched), "ImplicitDeny" (no statement allowed it), or "" when no
	// policy ran. docs/AUDIT-FORMAT.md specifies every field.
	Decision string
	Sid      string // the deciding statement's Sid

	Result      string        // ResultOK or the gRPC code name
	Error       string        // the caller-safe message the caller was shown
	Latency     time.Duration // from request to answer, before the audit write
	Context     []ContextField
	Correlation string // the caller's x-request-id
	Detail      string // administrative events: what changed (caller-safe)
}

// ContextField is one encryption context entry: its key in clear and its
// value only as HMAC-SHA-256 under the log's secret, so equal values can be
// matched without the log holding them.
type ContextField struct {
	Key      string
	ValueMAC [32]byte
}
