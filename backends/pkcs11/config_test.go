//go:build cgo

package pkcs11

import (
	"context"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/backends"
)

type yamlNode struct{ n *yaml.Node }

func (y *yamlNode) set(t *testing.T, doc string) {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatal(err)
	}
	y.n = n.Content[0]
}

func TestConfigRejects(t *testing.T) {
	slot := uint(1)
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"empty", Config{}, []string{"module: required", "token_label, token_serial and slot", "pin_file and pin_env"}},
		{"two selectors", Config{Module: "m", TokenLabel: "a", Slot: &slot, PINEnv: "X"}, []string{"(2 given)"}},
		{"two pins", Config{Module: "m", TokenLabel: "a", PINEnv: "X", PINFile: "f"}, []string{"pin_file and pin_env"}},
		{"negative", Config{Module: "m", TokenSerial: "s", PINEnv: "X", MaxSessions: -1, SessionWait: -1}, []string{"max_sessions", "session_wait"}},
	} {
		err := tc.cfg.validate()
		if err == nil {
			t.Errorf("%s: validate() = nil", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", tc.name, err, w)
			}
		}
	}
}

func TestConfigUnknownKey(t *testing.T) {
	var node yamlNode
	node.set(t, "module: /x.so\ntoken_label: a\npin_env: P\npin: 1234\n")
	_, err := backends.Open(context.Background(), "pkcs11", "hsm", node.n)
	if err == nil || !strings.Contains(err.Error(), "pin") || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("unknown key accepted or unclear error: %v", err)
	}
}

// TestPINNeverInErrors opens with a wrong PIN and checks that neither that
// PIN nor the right one shows up in the error.
func TestPINNeverInErrors(t *testing.T) {
	cfg, tok := testConfig(t)
	cfg.PINFile = ""
	cfg.PINEnv = "KEYGATE_TEST_WRONG_PIN"
	t.Setenv(cfg.PINEnv, "wrong-pin-98765")
	_, err := Open(context.Background(), "hsm", cfg)
	if err == nil {
		t.Fatal("Open with a wrong PIN succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "wrong-pin-98765") || strings.Contains(msg, tok.PIN) {
		t.Fatalf("error shows a PIN: %v", err)
	}
	if !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") {
		t.Errorf("error does not say why: %v", err)
	}
	cfg.PINEnv = "KEYGATE_TEST_UNSET_PIN"
	if _, err := Open(context.Background(), "hsm", cfg); err == nil || !strings.Contains(err.Error(), "KEYGATE_TEST_UNSET_PIN") {
		t.Errorf("unset pin_env: %v", err)
	}
}

func TestUnknownToken(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.TokenLabel = "no-such-token"
	if _, err := Open(context.Background(), "hsm", cfg); err == nil || !strings.Contains(err.Error(), "no-such-token") {
		t.Fatalf("Open(unknown token) = %v", err)
	}
}
