package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// BenchmarkSignCommand is one `keygate sign` without the process start:
// flag parsing, a fresh mTLS connection (full handshake), the call with
// its audit commit, and the output. It is what a script pays per call.
func BenchmarkSignCommand(b *testing.B) {
	env := harness.Start(b, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	ca, cert, key := env.TLSFiles("admin")
	m := filepath.Join(b.TempDir(), "m")
	if err := os.WriteFile(m, []byte("benchmark message"), 0o600); err != nil {
		b.Fatal(err)
	}
	args := []string{"--addr", env.Addr, "--ca", ca, "--cert", cert, "--client-key", key, "sign", "acs-signing", "--message-file", m}
	var out, errOut bytes.Buffer
	b.ResetTimer()
	for b.Loop() {
		out.Reset()
		if code := run(args, strings.NewReader(""), &out, &errOut); code != 0 {
			b.Fatalf("exit %d: %s", code, errOut.String())
		}
	}
}
