package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/server"
)

// systemd-analyze verify reports unknown keys and bad values as warnings
// with exit status 0, so any output at all fails the test. ExecStart must
// name an executable that exists, so a copy points it at /bin/true.
func TestSystemdUnitVerifies(t *testing.T) {
	unit, err := os.ReadFile("systemd/keygated.service")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Fatal("systemd-analyze is missing (Debian's systemd package; make deps-test installs it)")
	}
	for _, want := range []string{"ProtectSystem=strict", "NoNewPrivileges=yes", "DynamicUser=yes", "LoadCredential=hsm-pin:"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	dir := t.TempDir()
	copyUnit := bytes.ReplaceAll(unit, []byte("/usr/local/bin/keygated"), []byte("/bin/true"))
	path := filepath.Join(dir, "keygated.service")
	if err := os.WriteFile(path, copyUnit, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	// The check itself catches a misspelt hardening key.
	bad := bytes.Replace(copyUnit, []byte("ProtectSystem=strict"), []byte("ProtectSystm=strict"), 1)
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); !strings.Contains(string(out), "ProtectSystm") {
		t.Fatalf("a misspelt key passed systemd-analyze verify: %s", out)
	}
}

// The example configurations are read by keygated's own strict parser.
func TestExampleConfigsParse(t *testing.T) {
	for _, f := range []string{"systemd/keygated.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.ParseConfig(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
