package e2e

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// sdkGCM is the SDK's AES-GCM, under IVs the SDK chooses. The SDK is not
// keygate, so under GODEBUG=fips140=only the test, playing it, makes its
// AEAD outside the enforcement (cipher.NewGCM is refused there).
func sdkGCM(key []byte) cipher.AEAD {
	var g cipher.AEAD
	fips140.WithoutEnforcement(func() { g = must(cipher.NewGCM(must(aes.NewCipher(key)))) })
	return g
}

// keygated built with Go's frozen FIPS 140-3 module (as `make build-fips`
// does) says so in --version, records it in its server.started event, and
// with require_fips refuses to start once the mode is turned off.
func TestFIPSBuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "keygated-fips")
	build := exec.Command("go", "build", "-o", bin, "./cmd/keygated")
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "GOFIPS140="+fipsModule, "GODEBUG=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("GOFIPS140=%s go build: %v\n%s", fipsModule, err, out)
	}
	const want = "FIPS 140-3 mode on; Go Cryptographic Module " + fipsModule + " (GOFIPS140=" + fipsModule + "-"

	version := exec.Command(bin, "--version")
	version.Env = append(os.Environ(), "GODEBUG=")
	out, err := version.Output()
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("keygated --version: %v\n%s\nwant a line with %q", err, out, want)
	}

	env := harness.Start(t, harness.Options{})
	t.Setenv("GODEBUG", "") // the FIPS build's own default (fips140=on), whatever the suite runs under
	p := env.StartBinary(bin, func(c *server.Config) { c.RequireFIPS = true })
	var detail string
	for _, ev := range events(t, env, &pb.EventFilter{Kind: "server.started"}) {
		if strings.HasPrefix(ev.Detail, "listening on "+p.Addr+";") {
			detail = ev.Detail
		}
	}
	if !strings.HasPrefix(detail, "listening on "+p.Addr+"; "+want) {
		t.Fatalf("the FIPS build's server.started event says %q, want %q", detail, want)
	}

	// The same config with the mode turned off at run time is refused.
	off := exec.Command(bin, "--config", p.ConfigFile)
	off.Env = append(os.Environ(), "GODEBUG=fips140=off")
	out, err = off.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "require_fips: FIPS 140-3 mode off; Go Cryptographic Module "+fipsModule) {
		t.Fatalf("require_fips with fips140=off: %v\n%s", err, out)
	}
}

// fipsModule is the frozen module the FIPS build links: v1.0.0 holds CMVP
// certificate #5247 (the Makefile's FIPS140 says the same).
const fipsModule = "v1.0.0"
