//go:build cgo

package softhsm

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	a, b := New(t), New(t)
	if a.Label == b.Label {
		t.Fatalf("two tokens share label %q", a.Label)
	}
	if _, err := os.Stat(a.Module); err != nil {
		t.Fatalf("module: %v", err)
	}
	out, err := exec.Command("softhsm2-util", "--show-slots").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --show-slots: %v\n%s", err, out)
	}
	for _, tok := range []Token{a, b} {
		if !strings.Contains(string(out), tok.Label) {
			t.Errorf("token %q not listed by --show-slots:\n%s", tok.Label, out)
		}
	}
}
