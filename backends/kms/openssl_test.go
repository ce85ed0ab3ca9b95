package kms

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/keys"
)

// TestOpenSSLVerifiesSignature checks a KMS ECDSA signature the way an
// outsider would: openssl, the cached public key as PEM, the DER signature.
func TestOpenSSLVerifiesSignature(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	f := newFixture(t, Options{})
	k := f.create(t, keys.ECCNISTP256, keys.SignVerify)
	msg := []byte(`{"acsURL":"https://acs.example/challenge"}`)
	d := sha256.Sum256(msg)
	sig, err := k.Sign(context.Background(), keys.ECDSASHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pub := write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	sigPath := write("sig.der", sig)
	run := func(msgPath string) (string, error) {
		out, err := exec.Command(openssl, "dgst", "-sha256", "-verify", pub, "-signature", sigPath, msgPath).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if out, err := run(write("msg", msg)); err != nil || out != "Verified OK" {
		t.Fatalf("openssl: %q, %v", out, err)
	}
	if out, err := run(write("other", append(msg, ' '))); err == nil {
		t.Fatalf("openssl verified the signature over another message: %q", out)
	}
}
