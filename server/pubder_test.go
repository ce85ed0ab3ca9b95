package server

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"
)

// publicDER answers what x509.MarshalPKIXPublicKey does, for a cached key
// and for one of a type it does not cache.
func TestPublicDER(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	for _, pub := range []any{&ec.PublicKey, &ec.PublicKey, edPub} {
		want, _ := x509.MarshalPKIXPublicKey(pub)
		got, err := publicDER(pub)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("publicDER(%T) = %x, %v; want %x", pub, got, err, want)
		}
	}
}
