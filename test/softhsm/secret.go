//go:build cgo

package softhsm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	p11 "github.com/miekg/pkcs11"
)

// ImportSecret puts a known generic secret on the token as a
// non-extractable, sensitive HMAC key (CKA_SIGN and CKA_VERIFY), for tests
// that need a published test vector's key inside the token (RFC 4226 and
// RFC 6238). It returns the key's CKA_ID in hex: the id a pkcs11 backend
// opens. New must have made tok in this process.
func (tok Token) ImportSecret(tb testing.TB, label string, value []byte) string {
	tb.Helper()
	id, err := tok.importSecret(label, value)
	if err != nil {
		tb.Fatalf("softhsm: import secret %s: %v", label, err)
	}
	return id
}

func (tok Token) importSecret(label string, value []byte) (string, error) {
	tokenMu.Lock()
	defer tokenMu.Unlock()
	if lib == nil {
		return "", errors.New("no token made in this process")
	}
	slots, err := lib.GetSlotList(true)
	if err != nil {
		return "", fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, slot := range slots {
		info, err := lib.GetTokenInfo(slot)
		if err != nil || info.Label != tok.Label {
			continue
		}
		s, err := lib.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			return "", fmt.Errorf("C_OpenSession: %w", err)
		}
		defer lib.CloseSession(s)
		if err := lib.Login(s, p11.CKU_USER, tok.PIN); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
			return "", fmt.Errorf("C_Login: %w", err)
		}
		id := []byte(randHex(8))
		_, err = lib.CreateObject(s, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_GENERIC_SECRET),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_SIGN, true),
			p11.NewAttribute(p11.CKA_VERIFY, true),
			p11.NewAttribute(p11.CKA_ID, id),
			p11.NewAttribute(p11.CKA_LABEL, label),
			p11.NewAttribute(p11.CKA_VALUE, value),
		})
		if err != nil {
			return "", fmt.Errorf("C_CreateObject: %w", err)
		}
		return hex.EncodeToString(id), nil
	}
	return "", fmt.Errorf("token %q not found", tok.Label)
}
