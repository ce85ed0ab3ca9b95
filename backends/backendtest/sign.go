package backendtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// digestOf hashes msg with alg's hash, as the server does before Sign.
func digestOf(alg keys.SigningAlgorithm, msg []byte) []byte {
	h := alg.Hash().New()
	h.Write(msg)
	return h.Sum(nil)
}

// verify checks sig over digest with Go's standard crypto and k's public key.
func verify(k backends.Key, alg keys.SigningAlgorithm, digest, sig []byte) bool {
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pub, digest, sig)
	case *rsa.PublicKey:
		if alg.IsPSS() {
			return rsa.VerifyPSS(pub, alg.Hash(), digest, sig, &rsa.PSSOptions{SaltLength: alg.DigestSize(), Hash: alg.Hash()}) == nil
		}
		return rsa.VerifyPKCS1v15(pub, alg.Hash(), digest, sig) == nil
	}
	return false
}

func (s *suite) testSign(t *testing.T) {
	ctx := context.Background()
	msg := []byte("acsSignedContent header.payload")
	for c, k := range s.keys {
		if c.Usage != keys.SignVerify {
			continue
		}
		for _, alg := range c.Spec.SigningAlgorithms() {
			digest := digestOf(alg, msg)
			sig, err := k.Sign(ctx, alg, digest)
			if err != nil {
				t.Errorf("%s: Sign(%s): %v", c, alg, err)
				continue
			}
			if !verify(k, alg, digest, sig) {
				t.Errorf("%s: %s signature does not verify with Go's crypto against Public()", c, alg)
			}
			if verify(k, alg, digestOf(alg, []byte("another message")), sig) {
				t.Errorf("%s: %s signature verifies over another message", c, alg)
			}
		}
	}
	// A signature must come from this key, not another of the same spec.
	p256 := s.keys[keyCase{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}]
	other, err := ecdsa.GenerateKey(p256.Public().(*ecdsa.PublicKey).Curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	digest := digestOf(keys.ECDSASHA256, msg)
	sig, err := p256.Sign(ctx, keys.ECDSASHA256, digest)
	if err == nil && ecdsa.VerifyASN1(&other.PublicKey, digest, sig) {
		t.Error("ECDSA signature verifies under an unrelated key")
	}
}

func (s *suite) testSignBadDigest(t *testing.T) {
	ctx := context.Background()
	ec := s.keys[keyCase{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}]
	_, err := ec.Sign(ctx, keys.ECDSASHA256, make([]byte, 31))
	wantKind(t, "Sign(ECDSA_SHA_256, 31-byte digest)", err, kgerr.InvalidArgument)
	rsaKey := s.keys[keyCase{Spec: keys.RSA2048, Usage: keys.SignVerify}]
	_, err = rsaKey.Sign(ctx, keys.RSASSAPSSSHA384, make([]byte, crypto.SHA256.Size()))
	wantKind(t, "Sign(RSASSA_PSS_SHA_384, 32-byte digest)", err, kgerr.InvalidArgument)
}
