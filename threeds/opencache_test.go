package threeds

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// countingKey counts backend Decrypts (the unseal a cache saves).
type countingKey struct {
	backends.Key
	decrypts atomic.Int64
}

func (k *countingKey) Decrypt(ctx context.Context, alg keys.EncryptionAlgorithm, ct []byte, ec map[string]string) ([]byte, error) {
	k.decrypts.Add(1)
	return k.Key.Decrypt(ctx, alg, ct, ec)
}

// Two replicas with caches on one store: a cached session costs no
// unseal, yet each replica sees the counters the other advanced, and a
// message replayed to the other replica is still refused.
func TestOpenCacheKeepsCompareAndSwap(t *testing.T) {
	f := newFixture(t, A128GCM, newECKey(t, keys.SignVerify))
	ctx := context.Background()
	seal := &countingKey{Key: f.acs.SealKey}
	a := &Sessions{Store: f.store, SealKey: seal, Now: f.clk.now, Cache: NewOpenCache(0)}
	b := &Sessions{Store: f.store, SealKey: seal, Now: f.clk.now, Cache: NewOpenCache(0)}
	c0 := f.sdk.creq(t, 0)
	if _, err := a.DecryptCReq(ctx, testOwner, f.id, c0); err != nil {
		t.Fatal(err)
	}
	c1 := f.sdk.creq(t, 1)
	if _, err := b.DecryptCReq(ctx, testOwner, f.id, c1); err != nil {
		t.Fatal(err)
	}
	if _, err := a.DecryptCReq(ctx, testOwner, f.id, f.sdk.creq(t, 2)); err != nil {
		t.Fatalf("replica a after b advanced the counter: %v", err)
	}
	if n := seal.decrypts.Load(); n != 2 {
		t.Fatalf("%d unseals for 3 messages on 2 fresh replicas, want 2", n)
	}
	for _, m := range []*Sessions{a, b} {
		_, err := m.DecryptCReq(ctx, testOwner, f.id, c1)
		wantKind(t, err, kgerr.InvalidArgument, "")
		_, err = m.DecryptCReq(ctx, testOwner, f.id, c0)
		wantKind(t, err, kgerr.InvalidArgument, "")
	}
	for range 5 {
		if _, err := a.EncryptCRes(ctx, testOwner, f.id, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if n := seal.decrypts.Load(); n != 2 {
		t.Fatalf("%d unseals after cached CRes, want still 2", n)
	}
	// Expired: refused, and the entry is gone.
	f.clk.t = f.clk.t.Add(DefaultTTL + time.Second)
	_, err := a.DecryptCReq(ctx, testOwner, f.id, f.sdk.creq(t, 3))
	wantKind(t, err, kgerr.FailedPrecondition, "")
}

// The cache is used only for the blob it was opened from: a record whose
// sealed blob was replaced (another session's, moved by someone with the
// store) is unsealed again, and does not open under the wrong id.
func TestOpenCacheFollowsTheBlob(t *testing.T) {
	f := newFixture(t, A128CBCHS256, newECKey(t, keys.SignVerify))
	ctx := context.Background()
	m := &Sessions{Store: f.store, SealKey: f.acs.SealKey, Now: f.clk.now, Cache: NewOpenCache(0)}
	if _, err := m.DecryptCReq(ctx, testOwner, f.id, f.sdk.creq(t, 0)); err != nil {
		t.Fatal(err)
	}
	other, err := SealSession(ctx, f.acs.SealKey, Session{ID: "BBBBBBBBBBBBBBBBBBBBBB", AcsTransID: testTransID, Enc: A128CBCHS256,
		CEK: make([]byte, 32), Expiry: f.clk.t.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	f.store.mu.Lock()
	rec := f.store.recs[f.id]
	rec.Sealed = other
	f.store.recs[f.id] = rec
	f.store.mu.Unlock()
	_, err = m.DecryptCReq(ctx, testOwner, f.id, f.sdk.creq(t, 1))
	wantKind(t, err, kgerr.Internal, "does not open")
}

// The cache holds at most its size.
func TestOpenCacheBounded(t *testing.T) {
	c := NewOpenCache(2)
	now := time.Now()
	for _, id := range []string{"a", "b", "c", "d"} {
		c.put(id, SessionRecord{ID: id, Sealed: []byte(id)}, Session{ID: id, Expiry: now.Add(time.Minute)})
	}
	if c.Len() != 2 {
		t.Fatalf("%d entries, want 2", c.Len())
	}
	if _, ok := c.get("d", SessionRecord{ID: "d", Sealed: []byte("d")}, now); !ok {
		t.Fatal("the newest entry is missing")
	}
}

// A full cache drops its oldest entries first, an entry dropped and put
// again counts as new, and the record of the order stays bounded however
// many entries come and go.
func TestOpenCacheDropsOldest(t *testing.T) {
	c := NewOpenCache(3)
	now := time.Now()
	put := func(id string) {
		c.put(id, SessionRecord{ID: id, Sealed: []byte(id)}, Session{ID: id, Expiry: now.Add(time.Minute)})
	}
	has := func(id string) bool {
		_, ok := c.get(id, SessionRecord{ID: id, Sealed: []byte(id)}, now)
		return ok
	}
	for _, id := range []string{"a", "b", "c"} {
		put(id)
	}
	// a is dropped by a changed blob, then put again: now the newest.
	if _, ok := c.get("a", SessionRecord{ID: "a", Sealed: []byte("other")}, now); ok {
		t.Fatal("a stale blob was served")
	}
	put("a")
	put("d") // full: drops b, the oldest
	for id, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if has(id) != want {
			t.Errorf("entry %s present = %v, want %v", id, !want, want)
		}
	}
	for i := range 1000 {
		id := fmt.Sprint("x", i)
		put(id)
		c.get(id, SessionRecord{ID: id, Sealed: []byte("changed")}, now) // drops it
	}
	if len(c.order) > 2*c.size || c.Len() > c.size {
		t.Fatalf("order holds %d places for %d entries (size %d)", len(c.order), c.Len(), c.size)
	}
}

// A cached session stops working once the key version that sealed it can
// no longer be used, as an uncached one does.
func TestOpenCacheFollowsTheSealKey(t *testing.T) {
	f := newFixture(t, A128GCM, newECKey(t, keys.SignVerify))
	ctx := context.Background()
	cache := NewOpenCache(0)
	m := &Sessions{Store: f.store, SealKey: f.acs.SealKey, Now: f.clk.now, Cache: cache}
	if _, err := m.DecryptCReq(ctx, testOwner, f.id, f.sdk.creq(t, 0)); err != nil {
		t.Fatal(err)
	}
	rotated := &Sessions{Store: f.store, SealKey: newAESKey("seal-2"), Now: f.clk.now, Cache: cache,
		OpenKey: func(context.Context, string) (backends.Key, error) {
			return nil, kgerr.Errorf(kgerr.FailedPrecondition, "the key that sealed this session is no longer usable")
		}}
	_, err := rotated.DecryptCReq(ctx, testOwner, f.id, f.sdk.creq(t, 1))
	wantKind(t, err, kgerr.FailedPrecondition, "no longer usable")
}
