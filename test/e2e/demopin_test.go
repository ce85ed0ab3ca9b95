package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// The demo initialises its token without putting the PIN on any command
// line (where `ps` shows it): a softhsm2-util first in PATH records every
// argv it is given, passes the call on, and must never see the PIN.
func TestDemoKeepsThePINOffTheCommandLine(t *testing.T) {
	real, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatal("SoftHSM2 is not installed: run `make test`")
	}
	bin := t.TempDir()
	argvLog := filepath.Join(t.TempDir(), "argv")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '" + argvLog + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "softhsm2-util"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "keygate")
	runDemo(t, home, harness.FreeAddr(t), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	pin, err := os.ReadFile(filepath.Join(home, "pin"))
	if err != nil || len(pin) == 0 {
		t.Fatalf("the demo wrote no PIN file: %v", err)
	}
	argv, err := os.ReadFile(argvLog)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if strings.Contains(string(argv), string(pin)) {
		t.Fatalf("the token PIN was on a command line:\n%s", argv)
	}
}
