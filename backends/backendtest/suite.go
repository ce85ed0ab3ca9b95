// Package backendtest is the conformance suite every keygate backend runs:
// each key spec and usage, every operation checked against Go's standard
// crypto through Public(), refusals of the wrong usage, cancellation and
// concurrent use. It speaks only the backends interfaces, so the PKCS#11
// backend on SoftHSM2 and the KMS backend against a local KMS server run
// the same assertions.
package backendtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Target is the backend under test.
type Target struct {
	// New returns a fresh backend. Run closes it when the test ends.
	New func(t *testing.T) backends.Backend
	// UnknownID is a well-formed key id that names no key in the backend.
	UnknownID string
}

// keyCase is one spec and usage the suite creates a key for: every kind
// a backend may be asked for (backends.KeyKinds, which qualify also walks).
type keyCase = backends.KeyKind

// allCases is every spec with every usage it allows.
var allCases = backends.KeyKinds

// suite holds the backend and one open key per case, created once: RSA
// key generation is slow in any HSM.
type suite struct {
	b    backends.Backend
	keys map[keyCase]backends.Key
}

// Run runs the conformance suite against a backend made by tgt.New.
func Run(t *testing.T, tgt Target) {
	b := tgt.New(t)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	s := &suite{b: b, keys: map[keyCase]backends.Key{}}
	if !t.Run("CreateOpen", s.testCreateOpen) {
		t.Fatal("keys could not be created; the other tests need them")
	}
	t.Run("OpenUnknown", func(t *testing.T) { s.testOpenUnknown(t, tgt.UnknownID) })
	t.Run("OpenWrongSpec", s.testOpenWrongSpec)
	t.Run("Sign", s.testSign)
	t.Run("SignBadDigest", s.testSignBadDigest)
	t.Run("RSAOAEP", s.testRSAOAEP)
	t.Run("AESGCM", s.testAESGCM)
	t.Run("HMAC", s.testHMAC)
	t.Run("ECDH", s.testECDH)
	t.Run("WrongUsage", s.testWrongUsage)
	t.Run("CanceledContext", s.testCanceled)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("Delete", func(t *testing.T) { s.testDelete(t, tgt.UnknownID) })
}

func (s *suite) testCreateOpen(t *testing.T) {
	ctx := context.Background()
	for _, c := range allCases {
		id, err := s.b.CreateKey(ctx, backends.CreateRequest{Spec: c.Spec, Usage: c.Usage,
			Label: fmt.Sprintf("backendtest-%s-%s/v1", c.Spec, c.Usage)})
		if err != nil {
			t.Fatalf("CreateKey(%s): %v", c, err)
		}
		if id == "" {
			t.Fatalf("CreateKey(%s) returned an empty id", c)
		}
		k, err := s.b.Open(ctx, id, c.Spec, c.Usage)
		if err != nil {
			t.Fatalf("Open(%s, %s): %v", id, c, err)
		}
		if k.ID() != id || k.Spec() != c.Spec || k.Usage() != c.Usage {
			t.Errorf("Open(%s) = key %s %s %s", c, k.ID(), k.Spec(), k.Usage())
		}
		checkPublic(t, c, k)
		s.keys[c] = k
	}
	ids := map[string]bool{}
	for c, k := range s.keys {
		if ids[k.ID()] {
			t.Errorf("%s: id %s returned twice", c, k.ID())
		}
		ids[k.ID()] = true
	}
}

// checkPublic checks that Public() has the type and size the spec says.
func checkPublic(t *testing.T, c keyCase, k backends.Key) {
	t.Helper()
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		if !c.Spec.IsEC() || pub.Curve.Params().BitSize != map[keys.Spec]int{keys.ECCNISTP256: 256, keys.ECCNISTP384: 384}[c.Spec] {
			t.Errorf("%s: Public() is an ECDSA key on %s", c, pub.Curve.Params().Name)
		}
		if _, err := pub.ECDH(); err != nil {
			t.Errorf("%s: Public() is not a valid point: %v", c, err)
		}
	case *rsa.PublicKey:
		if want := map[keys.Spec]int{keys.RSA2048: 2048, keys.RSA3072: 3072, keys.RSA4096: 4096}[c.Spec]; pub.N.BitLen() != want {
			t.Errorf("%s: Public() is RSA-%d", c, pub.N.BitLen())
		}
	case nil:
		if c.Spec.IsEC() || c.Spec.IsRSA() {
			t.Errorf("%s: Public() is nil", c)
		}
	default:
		t.Errorf("%s: Public() is a %T", c, pub)
	}
}

func (s *suite) testOpenUnknown(t *testing.T, id string) {
	_, err := s.b.Open(context.Background(), id, keys.ECCNISTP256, keys.SignVerify)
	wantKind(t, "Open(unknown id)", err, kgerr.NotFound)
}

func (s *suite) testOpenWrongSpec(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ have, ask keyCase }{
		{keyCase{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}, keyCase{Spec: keys.ECCNISTP384, Usage: keys.SignVerify}},
		{keyCase{Spec: keys.RSA2048, Usage: keys.SignVerify}, keyCase{Spec: keys.RSA3072, Usage: keys.SignVerify}},
		{keyCase{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt}, keyCase{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac}},
		{keyCase{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac}, keyCase{Spec: keys.HMAC512, Usage: keys.GenerateVerifyMac}},
		{keyCase{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}, keyCase{Spec: keys.RSA2048, Usage: keys.SignVerify}},
		{keyCase{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}, keyCase{Spec: keys.ECCNISTP256, Usage: keys.KeyAgreement}},
		{keyCase{Spec: keys.RSA2048, Usage: keys.EncryptDecrypt}, keyCase{Spec: keys.RSA2048, Usage: keys.SignVerify}},
	} {
		_, err := s.b.Open(ctx, s.keys[tc.have].ID(), tc.ask.Spec, tc.ask.Usage)
		wantKind(t, fmt.Sprintf("Open(%s key as %s)", tc.have, tc.ask), err, kgerr.FailedPrecondition)
	}
}

// wantKind fails unless err is a *kgerr.Error (or context error) of kind.
func wantKind(t *testing.T, what string, err error, kind kgerr.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s", what, kind)
		return
	}
	if got := kgerr.KindOf(err); got != kind {
		t.Errorf("%s: error kind %s (%v), want %s", what, got, err, kind)
	}
	var ke *kgerr.Error
	if kind != kgerr.Canceled && kind != kgerr.DeadlineExceeded && !errors.As(err, &ke) {
		t.Errorf("%s: error %v is not a *kgerr.Error", what, err)
	}
}
