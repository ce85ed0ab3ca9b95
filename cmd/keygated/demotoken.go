//go:build cgo

package main

import (
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

// initDemoToken initialises the first free SoftHSM2 slot as label with the
// given PINs through PKCS#11 itself (C_InitToken, then C_InitPIN as the
// security officer), so no PIN is ever on a command line where `ps` shows
// it. The module is finalised afterwards; SoftHSM2 lists its token
// directory at C_Initialize, so the backend that initialises it next sees
// the new token.
func initDemoToken(module, label, pin, soPIN string) (err error) {
	lib := p11.New(module)
	if lib == nil {
		return fmt.Errorf("cannot load %s", module)
	}
	defer lib.Destroy()
	if err := lib.Initialize(); err != nil {
		return fmt.Errorf("C_Initialize: %w", err)
	}
	defer func() { err = errors.Join(err, lib.Finalize()) }()
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
		if err := lib.InitToken(slot, soPIN, label); err != nil {
			return fmt.Errorf("C_InitToken: %w", err)
		}
		s, err := lib.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			return fmt.Errorf("C_OpenSession: %w", err)
		}
		defer lib.CloseSession(s)
		if err := lib.Login(s, p11.CKU_SO, soPIN); err != nil {
			return fmt.Errorf("C_Login(SO): %w", err)
		}
		defer lib.Logout(s)
		if err := lib.InitPIN(s, pin); err != nil {
			return fmt.Errorf("C_InitPIN: %w", err)
		}
		return nil
	}
	return fmt.Errorf("no free slot among %d", len(slots))
}
