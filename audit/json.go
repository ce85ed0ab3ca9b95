package audit

import (
	"encoding/hex"
	"encoding/json"
	"time"
)

// eventJSON is the readable form of an event (archives, `audit events
// --output json`). Hashes are hex; times RFC 3339 with nanoseconds.
type eventJSON struct {
	Seq              uint64        `json:"seq"`
	Time             string        `json:"time"`
	Kind             Kind          `json:"kind"`
	Replica          string        `json:"replica,omitempty"`
	Principal        string        `json:"principal,omitempty"`
	CertSubject      string        `json:"cert_subject,omitempty"`
	CertSerial       string        `json:"cert_serial,omitempty"`
	CertURI          string        `json:"cert_uri,omitempty"`
	Peer             string        `json:"peer,omitempty"`
	Action           string        `json:"action,omitempty"`
	KeyName          string        `json:"key_name,omitempty"`
	KeyVersion       uint32        `json:"key_version,omitempty"`
	BackendKeyID     string        `json:"backend_key_id,omitempty"`
	BackendRequestID string        `json:"backend_request_id,omitempty"`
	Algorithm        string        `json:"algorithm,omitempty"`
	Decision         string        `json:"decision,omitempty"`
	Sid              string        `json:"sid,omitempty"`
	Result           string        `json:"result,omitempty"`
	Error            string        `json:"error,omitempty"`
	LatencyNs        int64         `json:"latency_ns"`
	Context          []contextJSON `json:"context,omitempty"`
	Correlation      string        `json:"correlation_id,omitempty"`
	Detail           string        `json:"detail,omitempty"`
	PrevHash         string        `json:"prev_hash"`
	Hash             string        `json:"hash"`
}

type contextJSON struct {
	Key      string `json:"key"`
	ValueMAC string `json:"value_hmac"`
}

// MarshalJSON writes the readable form of e.
func (e Event) MarshalJSON() ([]byte, error) {
	j := eventJSON{Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Kind: e.Kind, Replica: e.Replica,
		Principal: e.Principal, CertSubject: e.CertSubject, CertSerial: e.CertSerial, CertURI: e.CertURI,
		Peer: e.Peer, Action: e.Action, KeyName: e.KeyName, KeyVersion: e.KeyVersion,
		BackendKeyID: e.BackendKeyID, BackendRequestID: e.BackendRequestID, Algorithm: e.Algorithm,
		Decision: e.Decision, Sid: e.Sid, Result: e.Result, Error: e.Error, LatencyNs: int64(e.Latency),
		Correlation: e.Correlation, Detail: e.Detail,
		PrevHash: hex.EncodeToString(e.PrevHash[:]), Hash: hex.EncodeToString(e.Hash[:])}
	for _, c := range e.Context {
		j.Context = append(j.Context, contextJSON{Key: c.Key, ValueMAC: hex.EncodeToString(c.ValueMAC[:])})
	}
	return json.Marshal(j)
}
