package server

import (
	"strings"
	"testing"
)

// The checkpoint key's spec and backend default to ECC_NIST_P256 in the
// default backend, and are checked like the rest of the file.
func TestConfigCheckpointKey(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Audit.SigningKeySpec != "ECC_NIST_P256" || c.Audit.SigningKeyBackend != "hsm" {
		t.Fatalf("defaults: spec %q backend %q", c.Audit.SigningKeySpec, c.Audit.SigningKeyBackend)
	}
	ok := strings.Replace(goodConfig, "audit: {", "audit: {signing_key_spec: RSA_3072, signing_key_backend: hsm, ", 1)
	if c, err := ParseConfig([]byte(ok)); err != nil || c.Audit.SigningKeySpec != "RSA_3072" {
		t.Fatalf("RSA_3072 checkpoint key: %v", err)
	}
	bad := strings.Replace(goodConfig, "audit: {", "audit: {signing_key_spec: HMAC_256, signing_key_backend: kms, ", 1)
	_, err = ParseConfig([]byte(bad))
	for _, want := range []string{`audit.signing_key_spec "HMAC_256"`, `audit.signing_key_backend "kms"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}
}
