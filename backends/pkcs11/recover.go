//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"

	p11 "github.com/miekg/pkcs11"
)

var errNoToken = errors.New("token not found")

// lost reports whether err means s is gone. Besides the codes that say so,
// a module may answer a call on a session closed under it with anything
// (SoftHSM2: CKR_GENERAL_ERROR), so a token error on a session that no
// longer exists counts as a lost session too.
func (p *pool) lost(s *session, err *error) bool {
	if sessionLost(*err) {
		return true
	}
	if rv(*err) == p11.CKR_OK {
		return false
	}
	if _, ierr := p.b.api.GetSessionInfo(s.h); ierr == nil {
		return false
	}
	*err = fmt.Errorf("%w: %w", errSessionGone, *err)
	return true
}

// errSessionGone marks an error from a session that was closed under it.
var errSessionGone = errors.New("session closed during the call")

// recover runs once per lost epoch: whoever sees the loss first drops the
// idle sessions, re-initialises the module if it was finalised, finds the
// token again and logs in; the others just retry.
func (p *pool) recover(epoch uint64, cause error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.epoch.Load() != epoch {
		return nil
	}
	p.epoch.Add(1)
	p.discardIdle()
	if rv(cause) == p11.CKR_CRYPTOKI_NOT_INITIALIZED {
		if err := p.b.mod.reinitialize(); err != nil {
			return p.b.fail("recovery", "", err)
		}
		p.hasAnchor = false
		p.gen.Add(1)
	}
	if err := p.loginLocked(); err != nil {
		return p.b.fail("recovery", "", fmt.Errorf("after %w: %w", cause, err))
	}
	return nil
}

// loginLocked makes sure the anchor session is open and logged in. A
// fresh login means the application had been logged out, and some modules
// (SoftHSM2) drop private object handles then: keys must find theirs again.
func (p *pool) loginLocked() error {
	if p.hasAnchor && p.anchorGen != p.b.mod.gen.Load() {
		// The module was initialised again: the anchor, the login and
		// every object handle went with it.
		p.hasAnchor = false
		p.gen.Add(1)
	}
	if p.hasAnchor {
		err := p.b.api.Login(p.anchor, p11.CKU_USER, p.b.pin)
		if err == nil {
			p.gen.Add(1)
		}
		if err == nil || rv(err) == p11.CKR_USER_ALREADY_LOGGED_IN {
			return nil
		}
		p.b.api.CloseSession(p.anchor)
		p.hasAnchor = false
		if !sessionLost(err) {
			return fmt.Errorf("C_Login: %w", err)
		}
	}
	slot, err := p.b.findSlot()
	if err != nil {
		return err
	}
	if uint64(slot) != p.slot.Load() {
		// Another slot means the token was re-inserted: handles are stale.
		p.slot.Store(uint64(slot))
		p.gen.Add(1)
	}
	modGen := p.b.mod.gen.Load()
	h, err := p.b.api.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("C_OpenSession: %w", err)
	}
	switch err := p.b.api.Login(h, p11.CKU_USER, p.b.pin); {
	case err == nil:
		p.gen.Add(1)
	case rv(err) != p11.CKR_USER_ALREADY_LOGGED_IN:
		p.b.api.CloseSession(h)
		return fmt.Errorf("C_Login: %w", err)
	}
	p.anchor, p.anchorGen, p.hasAnchor = h, modGen, true
	return nil
}
