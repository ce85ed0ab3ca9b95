//go:build cgo

package pkcs11

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

// TestDerivePublic recovers the public key of many keys on both curves
// from signatures alone, as an HSM's raw r||s gives them.
func TestDerivePublic(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		size := (curve.Params().BitSize + 7) / 8
		for range 25 {
			k, err := ecdsa.GenerateKey(curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			sign := func(digest []byte) ([]byte, error) {
				r, s, err := ecdsa.Sign(rand.Reader, k, digest)
				if err != nil {
					return nil, err
				}
				return append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...), nil
			}
			pub, err := derivePublic(curve, sign)
			if err != nil || !pub.Equal(&k.PublicKey) {
				t.Fatalf("%s: derived %v, %v", curve.Params().Name, pub, err)
			}
		}
	}
	// Signatures by another key than the one asked about give no key.
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	calls := 0
	_, err := derivePublic(elliptic.P256(), func(digest []byte) ([]byte, error) {
		calls++
		k := other
		if calls == 2 {
			k, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		return append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...), err
	})
	if err == nil {
		t.Fatal("signatures by two keys gave a public key")
	}
}
