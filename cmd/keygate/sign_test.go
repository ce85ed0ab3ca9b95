package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os/exec"
	"strings"
	"testing"
)

// testOpenSSL is the acceptance flow: a CLI signature that openssl
// verifies with the CLI's PEM public key, and rejects for another message.
func testOpenSSL(t *testing.T, c *cli) {
	m := c.file("m", []byte("acsSignedContent payload\n"))
	c.ok("", "sign", "acs-signing", "--message-file", m, "--out", c.path("sig"))
	pub := c.file("pub.pem", []byte(c.ok("", "keys", "public-key", "acs-signing")))
	out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pub, "-signature", c.path("sig"), m).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl dgst -verify: %v: %s", err, out)
	}
	other := c.file("other", []byte("another message\n"))
	if out, err := exec.Command("openssl", "dgst", "-sha256", "-verify", pub, "-signature", c.path("sig"), other).CombinedOutput(); err == nil {
		t.Fatalf("openssl accepted the signature for another message: %s", out)
	}
}

func testSign(t *testing.T, c *cli) {
	msg := []byte("the exact bytes to sign")
	m := c.file("m", msg)
	pub := publicKey(t, c, "acs-signing-rsa").(*rsa.PublicKey)

	// RSA-PSS, signature as base64 on stdout.
	sig := b64(t, c.ok("", "sign", "acs-signing-rsa", "--message-file", m, "--algorithm", "RSASSA_PSS_SHA_256"))
	d := sha256.Sum256(msg)
	if err := rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		t.Errorf("RSASSA_PSS_SHA_256 signature does not verify: %v", err)
	}
	// A DIGEST from stdin, flags after and before the name.
	sig = b64(t, c.ok(string(d[:]), "sign", "--message-type", "DIGEST", "acs-signing", "--message-file", "-"))
	if !ecdsa.VerifyASN1(publicKey(t, c, "acs-signing").(*ecdsa.PublicKey), d[:], sig) {
		t.Error("ECDSA signature of a DIGEST does not verify")
	}

	// verify: valid is exit 0, invalid is exit 1 with "invalid" on stdout.
	s := c.file("sig", sig)
	if out := c.ok("", "verify", "acs-signing", "--message-file", m, "--signature-file", s, "--version", "1"); out != "valid\n" {
		t.Errorf("verify of a good signature printed %q", out)
	}
	bad := c.file("bad", []byte("the exact bytes to sigN"))
	if out := c.fails(exitInvalid, "", "", "verify", "acs-signing", "--message-file", bad, "--signature-file", s); out != "invalid\n" {
		t.Errorf("verify of a bad signature printed %q", out)
	}
	out := c.fails(exitInvalid, "", "", "--output", "json", "verify", "acs-signing", "--message-file", bad, "--signature-file", s)
	var v struct {
		Valid *bool `json:"signature_valid"`
	}
	if decode(t, out, &v); v.Valid == nil || *v.Valid {
		t.Errorf("verify --output json of a bad signature: %s", out)
	}
	c.fails(exitUsage, "keygate: --signature-file -: stdin is already read", "x", "verify", "acs-signing", "--message-file", "-", "--signature-file", "-")
	c.fails(exitArgument, "keygate: InvalidArgument: ", "", "sign", "acs-signing", "--message-file", c.file("big", make([]byte, 4097)))
	c.fails(exitArgument, "keygate: InvalidArgument: ", "", "sign", "acs-signing", "--message-file", m, "--message-type", "DIGEST")
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "sign", "data-key", "--message-file", m)
	c.fails(exitUsage, "keygate: --message-file: open ", "", "sign", "acs-signing", "--message-file", c.path("missing"))
}

func publicKey(t *testing.T, c *cli, name string) crypto.PublicKey {
	t.Helper()
	block, _ := pem.Decode([]byte(c.ok("", "keys", "public-key", name)))
	if block == nil {
		t.Fatalf("keys public-key %s: no PEM", name)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(s, "\n"))
	if err != nil || strings.Count(s, "\n") != 1 {
		t.Fatalf("want one line of base64, got %q (%v)", s, err)
	}
	return b
}
