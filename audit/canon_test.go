package audit

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"
)

func sampleEvent() *Event {
	return &Event{Seq: 42, PrevHash: [32]byte{1, 2, 3}, Time: time.Unix(1767225600, 123456789).UTC(),
		Kind: KindCall, Replica: "r1", Principal: "arn:aws:iam::111122223333:role/acs",
		CertSubject: "CN=acs", CertSerial: "01", CertURI: "spiffe://x/acs", Peer: "10.0.0.1:443",
		Action: "kms:Sign", KeyName: "acs-signing", KeyVersion: 3, BackendKeyID: "kid",
		BackendRequestID: "rid", Algorithm: "ECDSA_SHA_256", Decision: "Allow", Sid: "S1",
		Result: ResultOK, Error: "", Latency: 1500 * time.Microsecond,
		Context:     []ContextField{{Key: "a", ValueMAC: [32]byte{9}}, {Key: "b", ValueMAC: [32]byte{8}}},
		Correlation: "c-1", Detail: "d"}
}

// The encoding is a stored format: this hash pins version 1. If it
// changes, existing logs stop verifying; make a new version instead.
func TestCanonicalGolden(t *testing.T) {
	enc := AppendCanonical(nil, sampleEvent())
	if len(enc) != encodedSize(sampleEvent()) {
		t.Fatalf("encodedSize %d, encoding is %d bytes", encodedSize(sampleEvent()), len(enc))
	}
	h := HashCanonical(enc)
	const want = "8809cd0b9b7bb7e5c3e7563dee3a86875ddbbde1a2761caececd15012999520d"
	if got := hex.EncodeToString(h[:]); got != want {
		t.Fatalf("canonical v1 hash changed: %s", got)
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	e := sampleEvent()
	enc := AppendCanonical(nil, e)
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	e.Hash = HashCanonical(enc)
	if !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
	}
}

func TestDecodeStrict(t *testing.T) {
	enc := AppendCanonical(nil, sampleEvent())
	unsorted := sampleEvent()
	unsorted.Context[0].Key = "c"
	badUTF8 := sampleEvent()
	badUTF8.Peer = "\xff"
	for name, b := range map[string][]byte{
		"empty":       nil,
		"version":     append([]byte{2}, enc[1:]...),
		"truncated":   enc[:len(enc)-1],
		"trailing":    append(append([]byte{}, enc...), 0),
		"unsorted":    AppendCanonical(nil, unsorted),
		"invalid utf": AppendCanonical(nil, badUTF8),
	} {
		if _, err := Decode(b); !errors.Is(err, errEncoding) {
			t.Errorf("%s: Decode returned %v, want a malformed-encoding error", name, err)
		}
	}
}
