package audit_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
)

// rsaKey is a backends.Key over a software RSA key, for a token that has
// no EC: checkpoints are signed with RSASSA_PSS_SHA_256.
type rsaKey struct {
	backends.Key
	k    *rsa.PrivateKey
	algs []keys.SigningAlgorithm
}

func (r *rsaKey) ID() string               { return "soft-rsa" }
func (r *rsaKey) Spec() keys.Spec          { return keys.RSA3072 }
func (r *rsaKey) Usage() keys.Usage        { return keys.SignVerify }
func (r *rsaKey) Public() crypto.PublicKey { return &r.k.PublicKey }
func (r *rsaKey) Sign(_ context.Context, alg keys.SigningAlgorithm, d []byte) ([]byte, error) {
	r.algs = append(r.algs, alg)
	if alg != keys.RSASSAPSSSHA256 {
		return nil, errors.New("wrong algorithm")
	}
	return rsa.SignPSS(rand.Reader, r.k, crypto.SHA256, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
}

func TestKeySignerRSA(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		t.Fatal(err)
	}
	k := &rsaKey{k: priv}
	sig, err := audit.KeySigner(k)
	if err != nil {
		t.Fatal(err)
	}
	l := newLog(t, openStore(t, stores[0].dsn(t)), sig, "r")
	record(t, l, 0, 3)
	c, err := l.Checkpoint(context.Background())
	v := verifier(t, sig)
	if err != nil || c.Seq != 3 || !v.Check(&c) {
		t.Fatalf("checkpoint through the RSA key: %+v, %v", c, err)
	}
	if len(k.algs) != 1 || k.algs[0] != keys.RSASSAPSSSHA256 {
		t.Fatalf("backend asked for %v", k.algs)
	}
	c.Signature[10] ^= 1
	if v.Check(&c) {
		t.Fatal("a tampered RSA checkpoint signature verified")
	}
}
