package audit_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// softKey is a backends.Key over a software ECDSA key: enough to check
// that KeySigner asks for the right algorithm and refuses the wrong keys.
type softKey struct {
	backends.Key // methods the adapter must not call panic
	spec         keys.Spec
	usage        keys.Usage
	k            *ecdsa.PrivateKey
	algs         []keys.SigningAlgorithm
}

func (s *softKey) ID() string               { return "soft" }
func (s *softKey) Spec() keys.Spec          { return s.spec }
func (s *softKey) Usage() keys.Usage        { return s.usage }
func (s *softKey) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s *softKey) Sign(_ context.Context, alg keys.SigningAlgorithm, d []byte) ([]byte, error) {
	s.algs = append(s.algs, alg)
	if alg != keys.ECDSASHA256 {
		return nil, errors.New("wrong algorithm")
	}
	return ecdsa.SignASN1(rand.Reader, s.k, d)
}
func (s *softKey) DeriveSharedSecret(context.Context, *ecdh.PublicKey) ([]byte, error) {
	return nil, errors.New("unused")
}

func TestKeySigner(t *testing.T) {
	k := &softKey{spec: keys.ECCNISTP256, usage: keys.SignVerify, k: newSigner(t).k}
	sig, err := audit.KeySigner(k)
	if err != nil {
		t.Fatal(err)
	}
	l := newLog(t, openStore(t, stores[0].dsn(t)), sig, "r")
	record(t, l, 0, 3)
	c, err := l.Checkpoint(context.Background())
	if err != nil || c.Seq != 3 || !verifier(t, sig).Check(&c) {
		t.Fatalf("checkpoint through the backend key: %+v, %v", c, err)
	}
	if len(k.algs) != 1 || k.algs[0] != keys.ECDSASHA256 {
		t.Fatalf("backend asked for %v", k.algs)
	}
	for _, bad := range []*softKey{
		{spec: keys.RSA2048, usage: keys.SignVerify, k: k.k},
		{spec: keys.ECCNISTP256, usage: keys.KeyAgreement, k: k.k},
	} {
		if _, err := audit.KeySigner(bad); kgerr.KindOf(err) != kgerr.FailedPrecondition {
			t.Errorf("KeySigner(%s/%s) = %v, want FailedPrecondition", bad.spec, bad.usage, err)
		}
	}
}
