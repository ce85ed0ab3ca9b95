package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/opencryptoki"
)

// TestQualifyCommand runs `keygated qualify` against opencryptoki's
// software token from a config file: the matrix shows RSA and HMAC
// supported, EC and AES-GCM unsupported, and the command succeeds.
func TestQualifyCommand(t *testing.T) {
	tok := opencryptoki.New(t)
	dir := t.TempDir()
	pin := filepath.Join(dir, "pin")
	if err := os.WriteFile(pin, []byte(tok.PIN), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "keygated.yaml")
	body := fmt.Sprintf(`account: "111122223333"
region: eu-west-1
tls: {cert: s.pem, key: s-key.pem, client_ca: ca.pem}
admins: [arn:aws:iam::111122223333:role/admin]
store: {driver: sqlite, dsn: %s}
audit: {context_secret_file: unused}
backends:
  - name: ock
    type: pkcs11
    config: {module: %s, token_label: %s, pin_file: %s}
`, filepath.Join(dir, "k.db"), tok.Module, tok.Label, pin)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := qualifyCmd([]string{"--config", cfg, "--backend", "ock"}, &out); err != nil {
		t.Fatalf("qualify: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"RSA_2048/SIGN_VERIFY", "sign RSASSA_PSS_SHA_256", "HMAC_256/GENERATE_VERIFY_MAC",
		"lacks CKM_EC_KEY_PAIR_GEN", "lacks CKM_AES_GCM", "backend ock: PASSED",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := qualifyCmd([]string{"--config", cfg, "--backend", "nope"}, &out); err == nil || !strings.Contains(err.Error(), `no backend "nope"`) {
		t.Errorf("unknown backend: %v", err)
	}
}
