package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/keys"
)

// session is a pooled session and the recovery epoch it was opened in.
type session struct {
	h     p11.SessionHandle
	epoch uint64
}

// pool lends sessions, at most max at a time. A session is used by one
// goroutine at a time; see the package doc.
type pool struct {
	b      *Backend
	tokens chan struct{} // a slot in it is a right to hold a session
	idle   chan *session
	wait   time.Duration
	done   chan struct{} // closed by close
	closed atomic.Bool

	// epoch grows at each recovery; idle sessions from an older epoch are
	// presumed dead. gen grows when the module was re-initialised, which
	// invalidates every object handle.
	epoch atomic.Uint64
	gen   atomic.Uint64
	slot  atomic.Uint64

	mu        sync.Mutex // serialises login and recovery
	anchor    p11.SessionHandle
	hasAnchor bool
}

func newPool(b *Backend, slot uint, max int, wait time.Duration) *pool {
	p := &pool{b: b, tokens: make(chan struct{}, max), idle: make(chan *session, max),
		wait: wait, done: make(chan struct{})}
	p.slot.Store(uint64(slot))
	return p
}

// withSession runs fn on a session. If the session, the login or the module
// was lost, it recovers and runs fn once more on a fresh session.
func (p *pool) withSession(ctx context.Context, fn func(p11.SessionHandle) error) error {
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-p.tokens }()
	s, err := p.get()
	if err != nil {
		return err
	}
	err = fn(s.h)
	if !p.lost(s, &err) {
		p.put(s)
		return err
	}
	p.discard(s)
	if rerr := p.recover(s.epoch, err); rerr != nil {
		return rerr
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if s, err = p.get(); err != nil {
		return err
	}
	err = fn(s.h)
	if p.lost(s, &err) {
		p.discard(s)
	} else {
		p.put(s)
	}
	return err
}

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

func (p *pool) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case p.tokens <- struct{}{}:
	default:
		timer := time.NewTimer(p.wait)
		defer timer.Stop()
		select {
		case p.tokens <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return p.closedErr()
		case <-timer.C:
			return keys.Errorf(keys.ResourceExhausted, "pkcs11 backend %q: all %d sessions busy for %s",
				p.b.name, cap(p.tokens), p.wait)
		}
	}
	if p.closed.Load() {
		<-p.tokens
		return p.closedErr()
	}
	return nil
}

func (p *pool) closedErr() error {
	return keys.Errorf(keys.Unavailable, "pkcs11 backend %q is closed", p.b.name)
}

func (p *pool) get() (*session, error) {
	select {
	case s := <-p.idle:
		if s.epoch == p.epoch.Load() {
			return s, nil
		}
		p.discard(s)
	default:
	}
	epoch := p.epoch.Load()
	h, err := p.b.api.OpenSession(uint(p.slot.Load()), p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return nil, p.b.fail("C_OpenSession", "", err)
	}
	return &session{h: h, epoch: epoch}, nil
}

func (p *pool) put(s *session) {
	if p.closed.Load() || s.epoch != p.epoch.Load() {
		p.discard(s)
		return
	}
	select {
	case p.idle <- s:
	default:
		p.discard(s)
	}
}

func (p *pool) discard(s *session) { p.b.api.CloseSession(s.h) }

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
	for drained := false; !drained; {
		select {
		case s := <-p.idle:
			p.discard(s)
		default:
			drained = true
		}
	}
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
	p.anchor, p.hasAnchor = h, true
	return nil
}

// close stops lending, waits for sessions in use to come back, and closes
// every session, the anchor last.
func (p *pool) close() {
	if p.closed.Swap(true) {
		return
	}
	close(p.done)
	for range cap(p.tokens) {
		p.tokens <- struct{}{}
	}
	for drained := false; !drained; {
		select {
		case s := <-p.idle:
			p.discard(s)
		default:
			drained = true
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hasAnchor {
		p.b.api.CloseSession(p.anchor)
		p.hasAnchor = false
	}
}

var errNoToken = errors.New("token not found")
