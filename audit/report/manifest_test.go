package report_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/audit/report"
)

// A pack verifies under the checkpoint key whatever its kind (RSA where
// the token has no EC), and not after a byte of its manifest changes.
func TestVerifyWithECDSAAndRSACheckpointKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for name, k := range map[string]crypto.Signer{"ECDSA": ec, "RSA": rk} {
		sign := func(_ context.Context, m []byte) ([]byte, string, error) {
			var opts crypto.SignerOpts = crypto.SHA256
			if _, ok := k.(*rsa.PrivateKey); ok {
				opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
			}
			sig, err := k.Sign(rand.Reader, report.ManifestDigest(m), opts)
			return sig, "", err
		}
		now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		dir := filepath.Join(t.TempDir(), "pack")
		b := report.NewBuilder(report.Input{Since: now.AddDate(0, -3, 0), Until: now, Generated: now})
		if err := report.Write(context.Background(), dir, b.Data(), sign, false); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		if _, err := report.Verify(dir, pub); err != nil {
			t.Fatalf("%s: the pack does not verify: %v", name, err)
		}
		m := filepath.Join(dir, report.ManifestName)
		raw, _ := os.ReadFile(m)
		raw[len(raw)/2] ^= 1
		if err := os.WriteFile(m, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := report.Verify(dir, pub); err == nil {
			t.Fatalf("%s: a changed manifest verified", name)
		}
	}
}
