//go:build cgo

// Package softhsm gives tests a fresh, initialised SoftHSM2 token.
//
// SoftHSM2 reads its configuration from the file named by SOFTHSM2_CONF,
// once per process (at C_Initialize). The helper therefore writes one
// configuration with one temporary token directory per test binary, points
// SOFTHSM2_CONF at it, and creates every token in that directory: tokens are
// independent, so tests sharing it do not see each other's keys.
//
// SoftHSM2 also lists the token directory only at C_Initialize: a token made
// by softhsm2-util after the module was initialised in this process stays
// invisible to it. So tokens are initialised in-process, through PKCS#11
// itself (C_InitToken on the free slot, then C_InitPIN), which SoftHSM2 sees
// at once, whoever initialised the module first.
package softhsm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// Token is an initialised token with a user PIN set.
type Token struct {
	Module string // path of libsofthsm2.so
	Label  string // token label, unique per call
	PIN    string // user PIN
	SOPIN  string // security officer PIN
}

var (
	setupOnce sync.Once
	setupErr  error
	module    string
	tokenMu   sync.Mutex // serialises token creation and guards lib
	lib       *p11.Ctx   // the helper's own handle on the module, kept open
)

// New initialises a new token in the process's SoftHSM2 token directory. It
// fails the test (never skips it) if SoftHSM2 is not installed: `make test`
// installs it, and a test that silently does not run proves nothing.
func New(tb testing.TB) Token {
	tb.Helper()
	setupOnce.Do(func() { module, setupErr = setup() })
	if setupErr != nil {
		tb.Fatalf("softhsm: %v", setupErr)
	}
	tok := Token{Module: module, Label: "kg-" + randHex(6), PIN: randHex(4), SOPIN: randHex(4)}
	tokenMu.Lock()
	defer tokenMu.Unlock()
	err := initToken(tok)
	if errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_NOT_INITIALIZED)) {
		// A backend that had initialised the module finalised it when its
		// last user closed; initialise again and retry.
		err = initToken(tok)
	}
	if err != nil {
		tb.Fatalf("softhsm: init token %s: %v", tok.Label, err)
	}
	return tok
}

// setup writes the configuration and finds the module. The token directory
// lives as long as the test binary; it is small and under the temp dir.
func setup() (string, error) {
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return "", fmt.Errorf("SoftHSM2 is not installed (softhsm2-util not in PATH): run `apt-get install -y softhsm2` or `make test`")
	}
	mod, err := findModule()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "keygate-softhsm-")
	if err != nil {
		return "", err
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		return "", err
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	body := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return "", err
	}
	return mod, os.Setenv("SOFTHSM2_CONF", conf)
}

// initToken initialises the first free slot as tok. The module stays
// initialised for the life of the test binary: finalising it here would
// pull it from under a backend using it.
func initToken(tok Token) error {
	if lib == nil {
		lib = p11.New(module)
		if lib == nil {
			return fmt.Errorf("cannot load %s", module)
		}
	}
	if err := lib.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("C_Initialize: %w", err)
	}
	slots, err := lib.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, slot := range slots {
		info, err := lib.GetTokenInfo(slot)
		if err != nil {
			return fmt.Errorf("C_GetTokenInfo: %w", err)
		}
		if info.Flags&p11.CKF_TOKEN_INITIALIZED != 0 {
			continue
		}
		if err := lib.InitToken(slot, tok.SOPIN, tok.Label); err != nil {
			return fmt.Errorf("C_InitToken: %w", err)
		}
		return setUserPIN(slot, tok)
	}
	return fmt.Errorf("no free slot among %d", len(slots))
}

func setUserPIN(slot uint, tok Token) error {
	s, err := lib.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("C_OpenSession: %w", err)
	}
	defer lib.CloseSession(s)
	if err := lib.Login(s, p11.CKU_SO, tok.SOPIN); err != nil {
		return fmt.Errorf("C_Login(SO): %w", err)
	}
	defer lib.Logout(s)
	if err := lib.InitPIN(s, tok.PIN); err != nil {
		return fmt.Errorf("C_InitPIN: %w", err)
	}
	return nil
}

var moduleCandidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

func findModule() (string, error) {
	for _, p := range moduleCandidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	out, err := exec.Command("dpkg", "-L", "softhsm2").Output()
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasSuffix(line, "/libsofthsm2.so") {
				return line, nil
			}
		}
	}
	return "", fmt.Errorf("libsofthsm2.so not found in %v nor in `dpkg -L softhsm2`", moduleCandidates)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
