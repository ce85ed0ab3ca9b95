package sqlstore

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// memStrings is an audit_strings table in memory.
type memStrings struct {
	ids  map[string]uint64
	strs map[uint64]string
}

func (m *memStrings) ref(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	if id, ok := m.ids[s]; ok {
		return id, nil
	}
	id := uint64(len(m.ids) + 1)
	m.ids[s], m.strs[id] = id, s
	return id, nil
}

func (m *memStrings) str(id uint64) (string, error) {
	if id == 0 {
		return "", nil
	}
	s, ok := m.strs[id]
	if !ok {
		return "", fmt.Errorf("no string %d", id)
	}
	return s, nil
}

func recordOf(e *audit.Event) audit.Record {
	body := audit.AppendCanonical(nil, e)
	return audit.Record{Seq: e.Seq, TimeNs: e.Time.UnixNano(), Kind: e.Kind, Principal: e.Principal,
		Action: e.Action, KeyName: e.KeyName, Result: e.Result, Hash: sha256.Sum256(body), Body: body}
}

// Every canonical event comes back byte for byte from its compact form;
// bodies that are not canonical events, or disagree with their row, are
// kept as they are.
func TestStoredFormRoundTrip(t *testing.T) {
	m := &memStrings{ids: map[string]uint64{}, strs: map[uint64]string{}}
	full := &audit.Event{Seq: 1 << 40, PrevHash: sha256.Sum256([]byte("p")), Time: time.Unix(0, -5).UTC(),
		Kind: audit.KindCall, Replica: "r1", Principal: "arn:aws:iam::1:role/acs", CertSubject: "CN=é,O=x",
		CertSerial: "0a", CertURI: "spiffe://x/acs", Peer: "10.0.0.1:4", Action: "kms:Sign", KeyName: "k",
		KeyVersion: 1<<32 - 1, BackendKeyID: "arn:kms:key/1", BackendRequestID: "req-1", Algorithm: "ECDSA_SHA_256",
		Decision: "Allow", Sid: "S", Result: "OK", Error: "e", Latency: -time.Second,
		Context:     []audit.ContextField{{Key: "a", ValueMAC: [32]byte{1}}, {Key: "b", ValueMAC: [32]byte{2}}},
		Correlation: "c", Detail: "d"}
	empty := &audit.Event{Seq: 1, Time: time.Unix(1, 0).UTC(), Kind: audit.KindServerStarted}
	long := *full
	long.CertSubject = "CN=" + strings.Repeat("x", maxRefLen) // inline, not in audit_strings
	long.Context = []audit.ContextField{{Key: strings.Repeat("k", maxRefLen+1)}}
	for _, e := range []*audit.Event{full, empty, &long} {
		r := recordOf(e)
		stored, err := appendStored(nil, &r, m.ref)
		if err != nil {
			t.Fatal(err)
		}
		if stored[0] != formCompact || len(stored) >= len(r.Body) {
			t.Errorf("event %d stored as %d bytes (form %#x) for a %d-byte body", e.Seq, len(stored), stored[0], len(r.Body))
		}
		got, err := expand(stored, &r, m.str)
		if err != nil || !bytes.Equal(got, r.Body) {
			t.Fatalf("event %d: expand = %x, %v; want %x", e.Seq, got, err, r.Body)
		}
		if _, err := expand(stored[:len(stored)-1], &r, m.str); err == nil {
			t.Errorf("event %d: a truncated compact body expanded", e.Seq)
		}
		if _, err := expand(append(stored, 0), &r, m.str); err == nil {
			t.Errorf("event %d: a compact body with a trailing byte expanded", e.Seq)
		}
	}
	if _, ok := m.ids[long.CertSubject]; ok {
		t.Error("a string over maxRefLen went into audit_strings")
	}
	r := recordOf(full)
	r.Principal = "someone else" // the row disagrees with the body: stored raw
	for _, body := range [][]byte{r.Body, []byte("body 1"), {formCompact, 1}, {formRaw}, nil} {
		raw := r
		raw.Body = body
		stored, err := appendStored(nil, &raw, m.ref)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := expand(stored, &raw, m.str); err != nil || !bytes.Equal(got, body) {
			t.Errorf("raw body %x came back as %x, %v", body, got, err)
		}
	}
	if _, err := expand([]byte{formCompact, 1}, &r, m.str); err == nil {
		t.Error("a truncated compact body expanded")
	}
}
