// Package opencryptoki gives tests Debian's opencryptoki software token
// (the "IBM SoftTok" behind libopencryptoki), a second PKCS#11
// implementation beside SoftHSM2: it has RSA and HMAC but neither EC nor
// AES-GCM, so it shows how keygate behaves on a token that is not SoftHSM.
//
// Unlike SoftHSM2 the token is machine-wide: its objects live in
// /var/lib/opencryptoki/swtok and every call goes through the pkcsslotd
// daemon. New therefore starts pkcsslotd if it is not running, holds an
// exclusive lock on the token for the test's life (test binaries run in
// parallel), returns the token to its state as installed (removing every
// object an earlier test left behind) and initialises it with pkcsconf as
// an operator would (-I, -P, -u, -p). It wipes only a token that is not
// initialised or carries its own label, never one someone else set up.
//
// The reset is by removing the token's files: opencryptoki 3.8.1 cannot
// re-initialise a software token whose SO PIN was changed (C_InitToken
// keeps the PIN's hash but re-encrypts the master key under the factory
// PIN, after which every SO login fails with CKR_FUNCTION_FAILED).
package opencryptoki

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/test/softhsm"
)

// Label is the label New gives the token.
const Label = "keygate-ock"

const (
	defaultSOPIN = "87654321" // opencryptoki's factory SO PIN
	// tokenDir is where Debian's opencryptoki keeps the software token.
	tokenDir = "/var/lib/opencryptoki/swtok"
)

var moduleCandidates = []string{
	"/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0",
	"/usr/lib/aarch64-linux-gnu/opencryptoki/libopencryptoki.so.0",
	"/usr/lib/opencryptoki/libopencryptoki.so.0",
}

// New returns the freshly initialised software token (in softhsm.Token's
// shape: module, label, PINs). It fails the test, never skips it, when
// opencryptoki is missing: `make test` installs it.
func New(tb testing.TB) softhsm.Token {
	tb.Helper()
	for _, cmd := range []string{"pkcsslotd", "pkcsconf"} {
		if _, err := exec.LookPath(cmd); err != nil {
			tb.Fatalf("opencryptoki: %s not in PATH: run `apt-get install -y opencryptoki` or `make test`", cmd)
		}
	}
	mod := ""
	for _, p := range moduleCandidates {
		if _, err := os.Stat(p); err == nil {
			mod = p
			break
		}
	}
	if mod == "" {
		tb.Fatalf("opencryptoki: libopencryptoki.so.0 not found in %v", moduleCandidates)
	}
	lock(tb)
	if err := startDaemon(); err != nil {
		tb.Fatalf("opencryptoki: %v", err)
	}
	slot, label, initialised, err := softTok()
	if err != nil {
		tb.Fatalf("opencryptoki: %v", err)
	}
	// The token is the machine's: wipe only one that is new or ours.
	if initialised && label != Label {
		tb.Fatalf("opencryptoki: the software token in slot %d is initialised as %q, not %q: refusing to wipe it", slot, label, Label)
	}
	if err := reset(); err != nil {
		tb.Fatalf("opencryptoki: %v", err)
	}
	tok := softhsm.Token{Module: mod, Label: Label, PIN: randPIN(), SOPIN: randPIN()}
	c := strconv.Itoa(slot)
	tmpPIN := randPIN()
	for _, st := range []struct {
		args  []string
		stdin string
	}{
		{[]string{"-I", "-c", c, "-S", defaultSOPIN}, Label + "\n"},
		{[]string{"-P", "-c", c, "-S", defaultSOPIN, "-n", tok.SOPIN}, ""},
		{[]string{"-u", "-c", c, "-S", tok.SOPIN, "-n", tmpPIN}, ""},
		{[]string{"-p", "-c", c, "-U", tmpPIN, "-n", tok.PIN}, ""}, // the user PIN must be changed once set
	} {
		if err := pkcsconf(st.stdin, st.args...); err != nil {
			tb.Fatalf("opencryptoki: pkcsconf %s: %v", st.args[0], err)
		}
	}
	if err := hold(mod); err != nil {
		tb.Fatalf("opencryptoki: %v", err)
	}
	return tok
}

// lock holds an exclusive lock on the machine's token until the test ends.
func lock(tb testing.TB) {
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "keygate-opencryptoki.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		tb.Fatalf("opencryptoki: lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		tb.Fatalf("opencryptoki: lock: %v", err)
	}
	tb.Cleanup(func() { f.Close() }) // closing releases the lock
}

// startDaemon starts pkcsslotd unless it answers already (it forks into
// the background and stays, as the system service would).
func startDaemon() error {
	if _, err := pkcsconfOut("", "-t"); err == nil {
		return nil
	}
	if out, err := exec.Command("pkcsslotd").CombinedOutput(); err != nil {
		return fmt.Errorf("pkcsslotd: %v: %s", err, out)
	}
	// pkcsslotd returns once it has forked; its socket may lag a moment.
	var err error
	for i := 0; i < 100; i++ {
		if _, err = pkcsconfOut("", "-t"); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pkcsslotd started but pkcsconf -t still fails: %v", err)
}

// reset removes the software token's files: the token is then as
// installed (factory PINs, no objects), which pkcsslotd and the library
// pick up at their next use.
func reset() error {
	objs, _ := filepath.Glob(filepath.Join(tokenDir, "TOK_OBJ", "*"))
	for _, f := range append(objs, filepath.Join(tokenDir, "NVTOK.DAT"), filepath.Join(tokenDir, "MK_SO"), filepath.Join(tokenDir, "MK_USER")) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("reset the software token: %w", err)
		}
	}
	return nil
}

// softTok finds the software token in `pkcsconf -t` (Label, Model, then
// Flags for each token): its slot, label, and whether it is initialised.
func softTok() (slot int, label string, initialised bool, err error) {
	out, err := pkcsconfOut("", "-t")
	if err != nil {
		return 0, "", false, err
	}
	cur, found := -1, -1
	var curLabel string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Token #"):
			cur, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(line, "Token #"), " Info:"))
		case strings.HasPrefix(line, "Label:"):
			curLabel = strings.TrimSpace(strings.TrimPrefix(line, "Label:"))
		case strings.HasPrefix(line, "Model:") && strings.Contains(line, "SoftTok") && cur >= 0:
			found, label = cur, curLabel
		case strings.HasPrefix(line, "Flags:") && found >= 0 && found == cur:
			return found, label, tokenInitialised.MatchString(line), nil
		}
	}
	return 0, "", false, fmt.Errorf("no IBM SoftTok token in `pkcsconf -t`:\n%s", out)
}

// tokenInitialised matches the TOKEN_INITIALIZED flag, not USER_PIN_INITIALIZED.
var tokenInitialised = regexp.MustCompile(`[(|]TOKEN_INITIALIZED\|`)

func pkcsconf(stdin string, args ...string) error {
	out, err := pkcsconfOut(stdin, args...)
	if err != nil {
		return err
	}
	// pkcsconf exits 0 even when the token refused: the error is printed.
	if bytes.Contains(out, []byte("Error")) || bytes.Contains(out, []byte("CKR_")) {
		return fmt.Errorf("%s", bytes.TrimSpace(out))
	}
	return nil
}

func pkcsconfOut(stdin string, args ...string) ([]byte, error) {
	cmd := exec.Command("pkcsconf", args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
	}
	return out, nil
}

// randPIN is an 8-digit PIN (opencryptoki takes 4 to 8 characters).
func randPIN() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
