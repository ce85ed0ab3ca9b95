//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keygate/keygate/internal/kgerr"
	p11 "github.com/miekg/pkcs11"
)

// outsider is a second handle on the module, as another part of the
// process (or an operator tool loaded into it) would have.
func outsider(t *testing.T, module string) *p11.Ctx {
	c := p11.New(module)
	if c == nil {
		t.Fatal("cannot load module")
	}
	if err := c.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	return c
}

// TestRecoverAfterCloseAllSessions closes every session of the process on
// the token (which also logs the application out) and expects the next
// calls to recover: new sessions, a new login, the same key.
func TestRecoverAfterCloseAllSessions(t *testing.T) {
	cfg, tok := testConfig(t)
	b, k := signingKey(t, cfg)
	for i := range 5 { // fill the pool with idle sessions
		if err := signOK(context.Background(), k); err != nil {
			t.Fatalf("sign %d: %v", i, err)
		}
	}
	other := outsider(t, tok.Module)
	for round := range 3 {
		if err := other.CloseAllSessions(uint(b.pool.slot.Load())); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := signOK(context.Background(), k); err != nil {
				t.Fatalf("round %d, sign %d after C_CloseAllSessions: %v", round, i, err)
			}
		}
	}
}

// There is no test that closes sessions while other goroutines are in the
// middle of calls on them: SoftHSM2 2.6 frees a session under a running
// C_Sign and crashes the process (SIGSEGV in C_Sign), so such a test
// proves nothing about keygate.

// TestRecoverAfterFinalize finalises the module under the backend: every
// session and object handle is gone. The backend initialises it again,
// logs in, finds its key again by CKA_ID, and signs.
func TestRecoverAfterFinalize(t *testing.T) {
	cfg, tok := testConfig(t)
	b, k := signingKey(t, cfg)
	other := outsider(t, tok.Module)
	if err := other.Finalize(); err != nil {
		t.Fatal(err)
	}
	gen := b.pool.gen.Load()
	if err := signOK(context.Background(), k); err != nil {
		t.Fatalf("sign after C_Finalize: %v", err)
	}
	if b.pool.gen.Load() == gen {
		t.Error("re-initialisation did not invalidate cached handles")
	}
}

func TestClose(t *testing.T) {
	cfg, _ := testConfig(t)
	b, k := signingKey(t, cfg)
	var wg sync.WaitGroup
	started := make(chan struct{}, 8)
	bad := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				err := signOK(context.Background(), k)
				if i == 0 {
					started <- struct{}{}
				}
				if err != nil {
					if kgerr.KindOf(err) != kgerr.Unavailable {
						bad <- err
					}
					return
				}
			}
		}()
	}
	for range 8 {
		<-started
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait() // every signer stops: Close must not leave calls hanging
	close(bad)
	for err := range bad {
		t.Errorf("call during Close: %v, want Unavailable", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := signOK(context.Background(), k); kgerr.KindOf(err) != kgerr.Unavailable {
		t.Errorf("Sign after Close: %v, want Unavailable", err)
	}
}

// TestRecoverAfterTokenFilesMoved moves the token's files away under the
// backend and back, as a removed HSM or a failover looks to it: calls
// fail Unavailable (SoftHSM2 would say the key does not exist) and the
// probe says so; once the files are back the next call resets the module,
// finds the token again and signs with the same key.
func TestRecoverAfterTokenFilesMoved(t *testing.T) {
	cfg, tok := testConfig(t)
	b, k := signingKey(t, cfg)
	b.pool.resetEvery = 0
	if err := signOK(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	// Away means out of the token directory: SoftHSM2 takes any directory
	// in it for a token.
	dir := tok.Dir(t)
	away := filepath.Join(t.TempDir(), "away")
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := signOK(context.Background(), k); kgerr.KindOf(err) != kgerr.Unavailable {
			t.Fatalf("sign %d with the token away: %v, want Unavailable", i, err)
		}
	}
	if err := b.Probe(context.Background()); kgerr.KindOf(err) != kgerr.Unavailable {
		t.Fatalf("Probe with the token away: %v, want Unavailable", err)
	}
	if err := os.Rename(away, dir); err != nil {
		t.Fatal(err)
	}
	if err := b.Probe(context.Background()); err != nil {
		t.Fatalf("Probe with the token back: %v", err)
	}
	for i := range 3 {
		if err := signOK(context.Background(), k); err != nil {
			t.Fatalf("sign %d with the token back: %v", i, err)
		}
	}
}
