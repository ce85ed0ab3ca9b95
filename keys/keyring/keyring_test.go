package keyring

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/memory"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// memStore is a keys.Store in memory that counts reads.
type memStore struct {
	mu    sync.Mutex
	keys  map[string]*keys.Key
	reads int
}

func (m *memStore) CreateKey(_ context.Context, k *keys.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[k.Name] = k.Clone()
	return nil
}

func (m *memStore) GetKey(_ context.Context, name string) (*keys.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	k, ok := m.keys[name]
	if !ok {
		return nil, kgerr.Errorf(kgerr.NotFound, "key %q not found", name)
	}
	return k.Clone(), nil
}

func (m *memStore) ListKeys(context.Context, string, int) ([]*keys.Key, error) { return nil, nil }

func (m *memStore) UpdateKey(_ context.Context, k *keys.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k.Revision++
	m.keys[k.Name] = k.Clone()
	return nil
}

// setup makes a keyring over the memory backend with one HMAC key of two
// versions; it returns the versions' backend ids.
func setup(t *testing.T) (*Keyring, *memStore, *memory.Backend, *time.Time, [2]string) {
	now := time.Unix(1700000000, 0)
	store := &memStore{keys: map[string]*keys.Key{}}
	b := memory.New("hsm")
	var ids [2]string
	for i := range ids {
		id, err := b.CreateKey(context.Background(), backends.CreateRequest{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	kr := New(store, map[string]backends.Backend{"hsm": b}, Options{Refresh: time.Second, Now: func() time.Time { return now }})
	store.keys["av-mac"] = &keys.Key{Name: "av-mac", Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac, Backend: "hsm", State: keys.Enabled,
		Versions: []keys.Version{{Number: 1, State: keys.VersionRetired, BackendKeyID: ids[0]}, {Number: 2, State: keys.VersionActive, BackendKeyID: ids[1]}}}
	return kr, store, b, &now, ids
}

// A fresh entry costs no store read and no backend open; a stale one is
// read again, and a change made elsewhere (another replica) shows.
func TestResolveCachesAndRefreshes(t *testing.T) {
	kr, store, b, now, _ := setup(t)
	ctx := context.Background()
	for range 100 {
		if _, err := kr.Resolve(ctx, "av-mac"); err != nil {
			t.Fatal(err)
		}
	}
	if store.reads != 1 || b.Opens() != 2 {
		t.Fatalf("100 resolves: %d store reads, %d opens; want 1 and 2", store.reads, b.Opens())
	}
	store.keys["av-mac"].State = keys.Disabled
	store.keys["av-mac"].Revision++
	*now = now.Add(2 * time.Second)
	e, err := kr.Resolve(ctx, "av-mac")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Handle(0, true); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("disabled elsewhere: %v", err)
	}
	if b.Opens() != 2 {
		t.Fatalf("a state change reopened handles: %d opens", b.Opens())
	}
}

// One version the backend refuses does not take the others down, and is
// tried again at the next refresh.
func TestOneVersionFailingToOpen(t *testing.T) {
	kr, _, b, now, ids := setup(t)
	ctx := context.Background()
	b.Refuse(ids[0], kgerr.Errorf(kgerr.FailedPrecondition, "KMS key is disabled"))
	e, err := kr.Resolve(ctx, "av-mac")
	if err != nil {
		t.Fatal(err)
	}
	if _, h, err := e.Handle(0, true); err != nil || h.ID() != ids[1] {
		t.Fatalf("primary: %v", err)
	}
	if _, _, err := e.Handle(1, false); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("version 1 should carry the backend's refusal: %v", err)
	}
	b.Refuse(ids[0], nil)
	*now = now.Add(2 * time.Second)
	e, _ = kr.Resolve(ctx, "av-mac")
	if _, h, err := e.Handle(1, false); err != nil || h.ID() != ids[0] {
		t.Fatalf("version 1 after the backend recovered: %v", err)
	}
}

func TestVersionRules(t *testing.T) {
	kr, _, _, _, _ := setup(t)
	e, err := kr.Resolve(context.Background(), "av-mac")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Handle(1, true); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("a retired version must not make new outputs: %v", err)
	}
	if _, _, err := e.Handle(1, false); err != nil {
		t.Fatalf("a retired version still verifies: %v", err)
	}
	if _, _, err := e.Handle(9, false); kgerr.KindOf(err) != kgerr.NotFound {
		t.Fatalf("no such version: %v", err)
	}
	if _, err := kr.Resolve(context.Background(), "bad name!"); kgerr.KindOf(err) != kgerr.InvalidArgument {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := kr.Resolve(context.Background(), "missing"); kgerr.KindOf(err) != kgerr.NotFound {
		t.Fatalf("missing key: %v", err)
	}
}

// A reload that read the store before a change this replica installed
// does not bring the old state back into the cache.
func TestCacheNeverGoesBack(t *testing.T) {
	kr, store, _, _, _ := setup(t)
	ctx := context.Background()
	old := store.keys["av-mac"].Clone()
	changed := old.Clone()
	changed.Revision++
	changed.Versions[1].State = keys.VersionRetired
	if _, err := kr.Put(ctx, changed); err != nil {
		t.Fatal(err)
	}
	e, err := kr.Put(ctx, old) // the late reload
	if err != nil {
		t.Fatal(err)
	}
	if e.Key.Revision != changed.Revision {
		t.Fatalf("the cache went back to revision %d", e.Key.Revision)
	}
	if _, _, err := e.Handle(0, true); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("a retired primary still answers: %v", err)
	}
}
