//go:build cgo

package opencryptoki

import (
	"errors"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// TestNew initialises the token twice (the second time from the state the
// first left) and logs in with the PIN it reports.
func TestNew(t *testing.T) {
	for i := 0; i < 2; i++ {
		t.Run("", func(t *testing.T) {
			tok := New(t)
			// New holds the module initialised for the life of the binary;
			// this handle shares it and must not finalise it.
			lib := p11.New(tok.Module)
			if lib == nil {
				t.Fatalf("cannot load %s", tok.Module)
			}
			if err := lib.Initialize(); !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
				t.Fatalf("C_Initialize: %v, want CKR_CRYPTOKI_ALREADY_INITIALIZED (New holds the module)", err)
			}
			slots, err := lib.GetSlotList(true)
			if err != nil {
				t.Fatal(err)
			}
			for _, slot := range slots {
				info, err := lib.GetTokenInfo(slot)
				if err != nil || info.Label != Label {
					continue
				}
				s, err := lib.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
				if err != nil {
					t.Fatal(err)
				}
				defer lib.CloseSession(s)
				if err := lib.Login(s, p11.CKU_USER, tok.PIN); err != nil {
					t.Fatalf("C_Login: %v", err)
				}
				return
			}
			t.Fatalf("no token labelled %s", Label)
		})
	}
}
