//go:build cgo

package pkcs11

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// countingAPI watches the backend's use of the module: how many pool
// sessions are open at once, and whether a session ever runs two
// operations at the same time.
type countingAPI struct {
	api
	mu        sync.Mutex
	open, max int
	busy      map[p11.SessionHandle]bool
	overlap   int
}

func (c *countingAPI) OpenSession(slot uint, flags uint) (p11.SessionHandle, error) {
	h, err := c.api.OpenSession(slot, flags)
	if err == nil {
		c.mu.Lock()
		if c.open++; c.open > c.max {
			c.max = c.open
		}
		c.mu.Unlock()
	}
	return h, err
}

func (c *countingAPI) CloseSession(h p11.SessionHandle) error {
	c.mu.Lock()
	c.open--
	c.mu.Unlock()
	return c.api.CloseSession(h)
}

func (c *countingAPI) SignInit(s p11.SessionHandle, m []*p11.Mechanism, o p11.ObjectHandle) error {
	c.mu.Lock()
	if c.busy[s] {
		c.overlap++
	}
	c.busy[s] = true
	c.mu.Unlock()
	err := c.api.SignInit(s, m, o)
	if err != nil { // no C_Sign follows
		c.mu.Lock()
		c.busy[s] = false
		c.mu.Unlock()
	}
	return err
}

func (c *countingAPI) Sign(s p11.SessionHandle, msg []byte) ([]byte, error) {
	defer func() { c.mu.Lock(); c.busy[s] = false; c.mu.Unlock() }()
	return c.api.Sign(s, msg)
}

// signingKey opens a backend and creates a P-256 signing key on it.
func signingKey(t *testing.T, cfg Config) (*Backend, *Key) {
	t.Helper()
	b := openTest(t, cfg)
	ctx := context.Background()
	id, err := b.CreateKey(ctx, backends.CreateRequest{Spec: keys.ECCNISTP256, Usage: keys.SignVerify, Label: "pool-test/v1"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := b.Open(ctx, id, keys.ECCNISTP256, keys.SignVerify)
	if err != nil {
		t.Fatal(err)
	}
	return b, k.(*Key)
}

// signOK signs and verifies once.
func signOK(ctx context.Context, k *Key) error {
	digest := sha256.Sum256([]byte("pool"))
	sig, err := k.Sign(ctx, keys.ECDSASHA256, digest[:])
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

func TestPoolMoreCallersThanSessions(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.MaxSessions = 2
	cfg.SessionWait = time.Minute
	b, k := signingKey(t, cfg)
	counter := &countingAPI{api: b.api, busy: map[p11.SessionHandle]bool{}}
	b.api = counter
	b.pool.close() // start from no pooled sessions, so every open is counted
	b.pool = newPool(b, uint(b.pool.slot.Load()), cfg.MaxSessions, cfg.SessionWait)
	b.pool.mu.Lock()
	err := b.pool.loginLocked()
	b.pool.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	counter.mu.Lock()
	counter.open, counter.max = 0, 0 // the anchor session is not the pool's
	counter.mu.Unlock()

	var wg sync.WaitGroup
	errs := make(chan error, 32*5)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				if err := signOK(context.Background(), k); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if counter.max > cfg.MaxSessions || counter.max == 0 {
		t.Errorf("pool had %d sessions open at once, max_sessions is %d", counter.max, cfg.MaxSessions)
	}
	if counter.overlap != 0 {
		t.Errorf("a session ran two operations at once %d times", counter.overlap)
	}
}

// holdSession takes the pool's only session until release is closed.
func holdSession(t *testing.T, b *Backend) (release func()) {
	held, done := make(chan struct{}), make(chan struct{})
	go b.pool.withSession(context.Background(), func(p11.SessionHandle) error {
		close(held)
		<-done
		return nil
	})
	<-held
	return func() { close(done) }
}

func TestPoolWaitHonoursDeadline(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.MaxSessions, cfg.SessionWait = 1, time.Hour
	b, k := signingKey(t, cfg)
	release := holdSession(t, b)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := signOK(ctx, k)
	if kgerr.KindOf(err) != kgerr.DeadlineExceeded {
		t.Fatalf("Sign while the only session is busy, past the deadline: %v, want DeadlineExceeded", err)
	}
}

func TestPoolWaitResourceExhausted(t *testing.T) {
	cfg, _ := testConfig(t)
	cfg.MaxSessions, cfg.SessionWait = 1, 10*time.Millisecond
	b, k := signingKey(t, cfg)
	release := holdSession(t, b)
	err := signOK(context.Background(), k)
	if kgerr.KindOf(err) != kgerr.ResourceExhausted {
		t.Fatalf("Sign while the only session is busy past session_wait: %v, want ResourceExhausted", err)
	}
	release()
	// Once the session is back, calls succeed again.
	if err := signOK(context.Background(), k); err != nil {
		t.Fatalf("Sign after the session came back: %v", err)
	}
}
