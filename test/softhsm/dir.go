package softhsm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dir is the directory holding the token's files under SoftHSM2's token
// directory (SOFTHSM2_CONF's directories.tokendir), for tests that move a
// token away under a running process and back.
func (t Token) Dir(tb testing.TB) string {
	tb.Helper()
	conf, err := os.ReadFile(os.Getenv("SOFTHSM2_CONF"))
	if err != nil {
		tb.Fatalf("softhsm: reading SOFTHSM2_CONF: %v", err)
	}
	var tokens string
	for _, line := range strings.Split(string(conf), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "directories.tokendir" {
			tokens = strings.TrimSpace(v)
		}
	}
	dirs, err := os.ReadDir(tokens)
	if err != nil {
		tb.Fatalf("softhsm: token directory: %v", err)
	}
	for _, d := range dirs {
		// token.object holds the label, padded to 32 bytes with spaces.
		raw, err := os.ReadFile(filepath.Join(tokens, d.Name(), "token.object"))
		if err == nil && bytes.Contains(raw, []byte(t.Label)) {
			return filepath.Join(tokens, d.Name())
		}
	}
	tb.Fatalf("softhsm: no directory under %s holds token %s", tokens, t.Label)
	return ""
}
