//go:build cgo

package pkcs11

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	p11 "github.com/miekg/pkcs11"
)

// session is a pooled session and the recovery epoch it was opened in.
type session struct {
	h      p11.SessionHandle
	epoch  uint64
	modGen uint64 // the module's generation when the session was opened
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
	// waits counts acquisitions that found every session busy (metrics).
	waits atomic.Uint64

	mu        sync.Mutex // serialises login and recovery
	anchor    p11.SessionHandle
	anchorGen uint64 // the module's generation when the anchor was opened
	hasAnchor bool

	// gone is set while the token itself is missing (token.go): calls
	// fail at once, and one of them at most every resetEvery resets the
	// module to look for it again.
	gone       atomic.Bool
	resetMu    sync.Mutex
	lastReset  time.Time
	resetEvery time.Duration
}

func newPool(b *Backend, slot uint, max int, wait time.Duration) *pool {
	p := &pool{b: b, tokens: make(chan struct{}, max), idle: make(chan *session, max),
		wait: wait, done: make(chan struct{}), resetEvery: resetEvery}
	p.slot.Store(uint64(slot))
	return p
}

// withSession runs fn on a session. If the session, the login or the module
// was lost, it recovers and runs fn once more on a fresh session.
// A call that fails while the token itself is missing fails Unavailable
// (token.go), not with what the module said (SoftHSM2: no such key).
func (p *pool) withSession(ctx context.Context, fn func(p11.SessionHandle) error) error {
	if err := p.reappear(); err != nil {
		return err
	}
	if err := p.acquire(ctx); err != nil {
		return err
	}
	defer func() { <-p.tokens }()
	p.b.mod.use.RLock()
	defer p.b.mod.use.RUnlock()
	return p.absent(p.attempt(ctx, fn))
}

// withTokenWrite is withSession for a call that creates or destroys token
// objects: it runs alone among the module's writes and searches
// (module.objects). Such calls are rare administrative ones; what waits
// for one is another write or a search (a key version's first use), never
// a signature on a key already found.
func (p *pool) withTokenWrite(ctx context.Context, fn func(p11.SessionHandle) error) error {
	return p.withSession(ctx, func(s p11.SessionHandle) error {
		p.b.mod.objects.Lock()
		defer p.b.mod.objects.Unlock()
		return fn(s)
	})
}

// attempt is withSession's work: fn on a session, and once more after a
// recovery if the session was lost.
func (p *pool) attempt(ctx context.Context, fn func(p11.SessionHandle) error) error {
	s, err := p.get()
	if err != nil {
		return err
	}
	err = fn(s.h)
	if !p.lost(s, &err) {
		p.putBack(s, err)
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
		p.putBack(s, err)
	}
	return err
}

func (p *pool) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case p.tokens <- struct{}{}:
	default:
		p.waits.Add(1)
		timer := time.NewTimer(p.wait)
		defer timer.Stop()
		select {
		case p.tokens <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return p.closedErr()
		case <-timer.C:
			return kgerr.Errorf(kgerr.ResourceExhausted, "pkcs11 backend %q: all %d sessions busy for %s",
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
	return kgerr.Errorf(kgerr.Unavailable, "pkcs11 backend %q is closed", p.b.name)
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
	epoch, modGen := p.epoch.Load(), p.b.mod.gen.Load()
	h, err := p.b.api.OpenSession(uint(p.slot.Load()), p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return nil, p.b.fail("C_OpenSession", "", err)
	}
	return &session{h: h, epoch: epoch, modGen: modGen}, nil
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

// putBack returns s to the pool after a call that ended with err. After a
// token error the session may still hold an operation (the standard says a
// failed C_Sign ends it; not every module agrees, and a later C_SignInit
// would fail with CKR_OPERATION_ACTIVE), so it is closed instead.
func (p *pool) putBack(s *session, err error) {
	if rv(err) != p11.CKR_OK {
		p.discard(s)
		return
	}
	p.put(s)
}

// discard closes s, unless the module was initialised again since it was
// opened: then it is gone already, and its number may be someone else's.
func (p *pool) discard(s *session) {
	if s.modGen == p.b.mod.gen.Load() {
		p.b.api.CloseSession(s.h)
	}
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
	p.discardIdle()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hasAnchor && p.anchorGen == p.b.mod.gen.Load() {
		p.b.api.CloseSession(p.anchor)
	}
	p.hasAnchor = false
}

// discardIdle closes every idle session.
func (p *pool) discardIdle() {
	for {
		select {
		case s := <-p.idle:
			p.discard(s)
		default:
			return
		}
	}
}

// Sessions reports the pool's use for metrics (backends.SessionReporter).
func (b *Backend) Sessions() backends.SessionStats {
	return backends.SessionStats{InUse: len(b.pool.tokens), Max: cap(b.pool.tokens), Waits: b.pool.waits.Load()}
}
