//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/internal/kgerr"
)

// A token can go away under a running keygated and come back: an HSM
// removed or failed over, SoftHSM2's token files moved away and back.
// While it is missing every call fails Unavailable at once; the module
// answers with anything meanwhile (SoftHSM2: CKR_GENERAL_ERROR, or no such
// key), which must not reach callers as NotFound or Internal. A module may
// not look for the token again by itself (SoftHSM2 does not until
// C_Initialize), so a missing token is looked for by resetting the module,
// at most once per resetEvery, when no call is in flight on it.

// resetEvery bounds how often a backend whose token is missing resets its
// module to look for it (the readiness probe asks every second); tests set
// the pool's to 0.
const resetEvery = time.Second

// absent returns err, or an Unavailable error if the call failed because
// the token is missing, and then notes that it is.
func (p *pool) absent(err error) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || p.closed.Load() {
		return err
	}
	switch kgerr.KindOf(err) {
	case kgerr.NotFound, kgerr.Internal, kgerr.Unavailable:
	default:
		return err // the caller's mistake or a limit, not the token's absence
	}
	if p.present() {
		return err
	}
	p.gone.Store(true)
	return p.goneErr(err)
}

// present reports whether the slot still holds our token.
func (p *pool) present() bool {
	info, err := p.b.api.GetTokenInfo(uint(p.slot.Load()))
	return err == nil && p.b.ours(info)
}

func (p *pool) goneErr(cause error) error {
	msg := fmt.Sprintf("pkcs11 backend %q: %s is not present", p.b.name, p.b.cfg.tokenName())
	if cause == nil {
		return kgerr.Errorf(kgerr.Unavailable, "%s", msg)
	}
	return kgerr.Wrap(kgerr.Unavailable, cause, msg)
}

// reappear looks for a missing token: it resets the module (waiting for
// the calls in flight on it), finds the token's slot again and logs in.
// Between attempts calls fail at once.
func (p *pool) reappear() error {
	if !p.gone.Load() {
		return nil
	}
	p.resetMu.Lock()
	defer p.resetMu.Unlock()
	switch {
	case !p.gone.Load():
		return nil
	case p.closed.Load():
		return p.closedErr()
	case time.Since(p.lastReset) < p.resetEvery:
		return p.goneErr(nil)
	}
	p.lastReset = time.Now()
	if err := p.b.mod.reset(); err != nil {
		return p.goneErr(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch.Add(1)
	p.discardIdle()
	if err := p.loginLocked(); err != nil {
		return p.goneErr(err)
	}
	p.gone.Store(false)
	return nil
}

// ours reports whether info is the configured token's.
func (b *Backend) ours(info p11.TokenInfo) bool {
	switch {
	case b.cfg.TokenLabel != "":
		return strings.TrimRight(info.Label, " ") == b.cfg.TokenLabel
	case b.cfg.TokenSerial != "":
		return strings.TrimRight(info.SerialNumber, " ") == b.cfg.TokenSerial
	}
	return true // configured by slot: whatever token is in it
}
