//go:build cgo

package pkcs11

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/backendtest"
	"github.com/keygate/keygate/test/softhsm"
)

// testConfig is a Config for a fresh SoftHSM2 token, its PIN in a file.
func testConfig(t testing.TB) (Config, softhsm.Token) {
	tok := softhsm.New(t)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Config{Module: tok.Module, TokenLabel: tok.Label, PINFile: pinFile}, tok
}

func openTest(t testing.TB, cfg Config) *Backend {
	t.Helper()
	b, err := Open(context.Background(), "hsm", cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Target{
		New: func(t *testing.T) backends.Backend {
			cfg, _ := testConfig(t)
			cfg.MaxSessions = 4 // below the suite's 16 workers: they must queue
			return openTest(t, cfg)
		},
		UnknownID: "00112233445566778899aabbccddeeff",
	})
}

// TestRegistry opens the backend the way keygated does: by type name, from
// a YAML section.
func TestRegistry(t *testing.T) {
	cfg, _ := testConfig(t)
	var node yamlNode
	node.set(t, "module: "+cfg.Module+"\ntoken_label: "+cfg.TokenLabel+"\npin_file: "+cfg.PINFile+"\nsession_wait: 2s\n")
	b, err := backends.Open(context.Background(), "pkcs11", "hsm", node.n)
	if err != nil {
		t.Fatalf("backends.Open: %v", err)
	}
	defer b.Close()
	p := b.(*Backend)
	if p.Name() != "hsm" || p.cfg.SessionWait != 2*time.Second || p.cfg.MaxSessions != defaultMaxSessions {
		t.Errorf("decoded config: name %q, session_wait %s, max_sessions %d", p.Name(), p.cfg.SessionWait, p.cfg.MaxSessions)
	}
}
