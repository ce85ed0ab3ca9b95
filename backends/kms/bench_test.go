package kms

import (
	"context"
	"testing"

	"github.com/keygate/keygate/keys"
)

// BenchmarkSign is one KMS Sign through the real SDK client (signing,
// retry middleware, JSON) to the loopback test server: the backend's own
// overhead, without AWS's network and HSM time.
func BenchmarkSign(b *testing.B) {
	f := newFixture(b, Options{})
	k := f.create(b, keys.ECCNISTP256, keys.SignVerify)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(ctx, keys.ECDSASHA256, digest); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptDecrypt(b *testing.B) {
	f := newFixture(b, Options{})
	k := f.create(b, keys.SymmetricDefault, keys.EncryptDecrypt)
	ctx := context.Background()
	ec := map[string]string{"acsTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
	b.ReportAllocs()
	for b.Loop() {
		blob, err := k.Encrypt(ctx, keys.SymmetricDefaultAlg, digest, ec)
		if err == nil {
			_, err = k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, ec)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
