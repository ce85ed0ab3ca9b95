package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	Hash             string        `json:"hash,omitempty"` // left out only in archives (archiveJSON)
}

type contextJSON struct {
	Key      string `json:"key"`
	ValueMAC string `json:"value_hmac"`
}

// MarshalJSON writes the readable form of e.
func (e Event) MarshalJSON() ([]byte, error) { return e.render(true) }

// archiveJSON is the rendering in an archive: without the event's hash,
// which the next event holds as its prev_hash (and the header and a
// checkpoint for the last one), and which the verifier computes anyway.
func (e *Event) archiveJSON() ([]byte, error) { return e.render(false) }

func (e *Event) render(withHash bool) ([]byte, error) {
	j := eventJSON{Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Kind: e.Kind, Replica: e.Replica,
		Principal: e.Principal, CertSubject: e.CertSubject, CertSerial: e.CertSerial, CertURI: e.CertURI,
		Peer: e.Peer, Action: e.Action, KeyName: e.KeyName, KeyVersion: e.KeyVersion,
		BackendKeyID: e.BackendKeyID, BackendRequestID: e.BackendRequestID, Algorithm: e.Algorithm,
		Decision: e.Decision, Sid: e.Sid, Result: e.Result, Error: e.Error, LatencyNs: int64(e.Latency),
		Correlation: e.Correlation, Detail: e.Detail,
		PrevHash: hex.EncodeToString(e.PrevHash[:])}
	if withHash {
		j.Hash = hex.EncodeToString(e.Hash[:])
	}
	for _, c := range e.Context {
		j.Context = append(j.Context, contextJSON{Key: c.Key, ValueMAC: hex.EncodeToString(c.ValueMAC[:])})
	}
	return json.Marshal(j)
}

// eventFromJSON parses an archive's rendering of an event (archiveJSON)
// back into the event it renders. Only that exact rendering is accepted
// (docs/AUDIT-FORMAT.md, section 3.1), so that one event has one rendering
// and the canonical encoding rebuilt from it is the one that was hashed.
// The returned event's Hash is computed.
func eventFromJSON(raw []byte) (*Event, error) {
	var j eventJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("readable event: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, j.Time)
	if err != nil {
		return nil, fmt.Errorf("readable event %d: time: %w", j.Seq, err)
	}
	e := &Event{Seq: j.Seq, Time: t.UTC(), Kind: j.Kind, Replica: j.Replica, Principal: j.Principal,
		CertSubject: j.CertSubject, CertSerial: j.CertSerial, CertURI: j.CertURI, Peer: j.Peer, Action: j.Action,
		KeyName: j.KeyName, KeyVersion: j.KeyVersion, BackendKeyID: j.BackendKeyID, BackendRequestID: j.BackendRequestID,
		Algorithm: j.Algorithm, Decision: j.Decision, Sid: j.Sid, Result: j.Result, Error: j.Error,
		Latency: time.Duration(j.LatencyNs), Correlation: j.Correlation, Detail: j.Detail}
	bad := badHex32(j.PrevHash, &e.PrevHash)
	if len(j.Context) > 0 {
		e.Context = make([]ContextField, len(j.Context))
	}
	for i, c := range j.Context {
		e.Context[i].Key = c.Key
		bad = bad || badHex32(c.ValueMAC, &e.Context[i].ValueMAC)
	}
	if bad {
		return nil, fmt.Errorf("readable event %d: a hash is not 64 hex digits", j.Seq)
	}
	want, err := e.archiveJSON()
	var got bytes.Buffer
	if err != nil || json.Compact(&got, raw) != nil || !bytes.Equal(got.Bytes(), want) {
		return nil, fmt.Errorf("readable event %d: not in the canonical rendering", j.Seq)
	}
	e.Hash = HashCanonical(AppendCanonical(nil, e))
	return e, nil
}

// badHex32 decodes 64 hex digits into dst, or reports that it cannot.
func badHex32(s string, dst *[32]byte) bool {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return true
	}
	copy(dst[:], b)
	return false
}
