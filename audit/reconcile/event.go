package reconcile

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Event is one CloudTrail KMS event, reduced to what reconciliation reads.
type Event struct {
	EventID     string
	RequestID   string
	EventSource string
	EventName   string // the KMS operation: "Sign", "Decrypt"...
	Time        time.Time
	KeyARNs     []string // resources[] of type AWS::KMS::Key
	ErrorCode   string   // "" when the call succeeded
	ReadOnly    bool

	// Who called, from where: what a bypass finding shows.
	Identity      string // userIdentity.arn
	AccessKeyID   string
	SourceIP      string
	VPCEndpointID string
	UserAgent     string
}

// record is the part of a CloudTrail record that Parse reads.
type record struct {
	EventID      string `json:"eventID"`
	RequestID    string `json:"requestID"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	EventTime    string `json:"eventTime"`
	ErrorCode    string `json:"errorCode"`
	ReadOnly     bool   `json:"readOnly"`
	UserIdentity struct {
		ARN         string `json:"arn"`
		AccessKeyID string `json:"accessKeyId"`
		InvokedBy   string `json:"invokedBy"`
	} `json:"userIdentity"`
	SourceIPAddress string `json:"sourceIPAddress"`
	VPCEndpointID   string `json:"vpcEndpointId"`
	UserAgent       string `json:"userAgent"`
	Resources       []struct {
		Type string `json:"type"`
		ARN  string `json:"ARN"`
	} `json:"resources"`
	RequestParameters struct {
		KeyID string `json:"keyId"`
	} `json:"requestParameters"`
}

// errNoRequestID marks a record that cannot be joined at all.
var errNoRequestID = errors.New("record has no requestID")

// Parse reads one CloudTrail record (a trail file's Records[] entry, or
// LookupEvents' CloudTrailEvent string).
func Parse(raw []byte) (*Event, error) {
	var r record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339, r.EventTime)
	if err != nil {
		return nil, errors.New("eventTime is not an RFC 3339 time")
	}
	if r.EventID == "" {
		return nil, errors.New("record has no eventID")
	}
	ev := &Event{EventID: r.EventID, RequestID: r.RequestID, EventSource: r.EventSource, EventName: r.EventName,
		Time: t.UTC(), ErrorCode: r.ErrorCode, ReadOnly: r.ReadOnly, Identity: r.UserIdentity.ARN,
		AccessKeyID: r.UserIdentity.AccessKeyID, SourceIP: r.SourceIPAddress, VPCEndpointID: r.VPCEndpointID, UserAgent: r.UserAgent}
	if ev.Identity == "" {
		ev.Identity = r.UserIdentity.InvokedBy // an AWS service acting for the account
	}
	for _, res := range r.Resources {
		if res.Type == "AWS::KMS::Key" && res.ARN != "" {
			ev.KeyARNs = append(ev.KeyARNs, res.ARN)
		}
	}
	if len(ev.KeyARNs) == 0 && isKeyARN(r.RequestParameters.KeyID) {
		ev.KeyARNs = []string{r.RequestParameters.KeyID}
	}
	if ev.RequestID == "" && ev.EventSource == kmsSource {
		return ev, errNoRequestID
	}
	return ev, nil
}

const kmsSource = "kms.amazonaws.com"

func isKeyARN(s string) bool {
	return strings.HasPrefix(s, "arn:aws") && strings.Contains(s, ":kms:") && strings.Contains(s, ":key/")
}

// roleOf turns an assumed-role session ARN into its role's ARN, so that
// keygated's role matches whatever session name the SDK chose:
// arn:aws:sts::A:assumed-role/R/S becomes arn:aws:iam::A:role/R.
func roleOf(arn string) string {
	rest, ok := strings.CutPrefix(arn, "arn:aws:sts::")
	if !ok {
		return arn
	}
	account, path, ok := strings.Cut(rest, ":assumed-role/")
	if !ok {
		return arn
	}
	role, _, _ := strings.Cut(path, "/")
	return "arn:aws:iam::" + account + ":role/" + role
}
