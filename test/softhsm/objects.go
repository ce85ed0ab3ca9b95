//go:build cgo

package softhsm

import (
	"errors"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// Objects counts the objects on the token labelled label, private ones
// included: tests check that a destroyed key, or the orphan of a failed
// create, is gone from the token itself. It logs in as the user but never
// out, since login state is the process's and a backend may share it.
func (t Token) Objects(tb testing.TB, label string) int {
	tb.Helper()
	tokenMu.Lock()
	defer tokenMu.Unlock()
	if err := lib.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		tb.Fatalf("softhsm: C_Initialize: %v", err)
	}
	slots, err := lib.GetSlotList(true)
	if err != nil {
		tb.Fatalf("softhsm: C_GetSlotList: %v", err)
	}
	for _, slot := range slots {
		info, err := lib.GetTokenInfo(slot)
		if err != nil || strings.TrimRight(info.Label, " \x00") != t.Label {
			continue
		}
		s, err := lib.OpenSession(slot, p11.CKF_SERIAL_SESSION)
		if err != nil {
			tb.Fatalf("softhsm: C_OpenSession: %v", err)
		}
		defer lib.CloseSession(s)
		if err := lib.Login(s, p11.CKU_USER, t.PIN); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
			tb.Fatalf("softhsm: C_Login: %v", err)
		}
		if err := lib.FindObjectsInit(s, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)}); err != nil {
			tb.Fatalf("softhsm: C_FindObjectsInit: %v", err)
		}
		found, _, err := lib.FindObjects(s, 100)
		lib.FindObjectsFinal(s)
		if err != nil {
			tb.Fatalf("softhsm: C_FindObjects: %v", err)
		}
		return len(found)
	}
	tb.Fatalf("softhsm: no token %s", t.Label)
	return 0
}
