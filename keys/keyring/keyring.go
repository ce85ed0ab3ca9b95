// Package keyring binds logical keys (package keys) to open backend
// handles. It is the registry the server resolves every call through:
// name -> key -> version -> backends.Key, with the handles opened once and
// cached, so the hot path does no lookup in the store or the backend.
//
// Several keygated replicas may share one store. A replica re-reads a key
// from the store when its cached copy is older than the refresh interval,
// so a key disabled on one replica stops working on the others within it.
// While the store is unreachable the cached copy keeps serving, but only
// until it is MaxStale old: then the key fails closed (Unavailable), so a
// replica cut off from the store cannot go on using a key, or a policy,
// that was disabled or tightened elsewhere.
package keyring

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/policy"
)

// Entry is a resolved key: an immutable snapshot of the logical key and
// the open handles of its usable versions. Callers must not modify it.
type Entry struct {
	Key *keys.Key
	ARN string
	// Policy is the key's policy, compiled once when the entry is built;
	// nil if the key has none (then only the config's admins reach it).
	Policy *policy.Policy

	handles map[uint32]backends.Key
	// openErrs says why a version has no handle: one version that the
	// backend will not open (a KMS key disabled there, a token object
	// gone) must not make the key's other versions unusable.
	openErrs  map[uint32]error
	loaded    time.Time
	reloading atomic.Bool
	// digest is the key row's keys.RowDigest, checked against the
	// audit chain (Options.Verify) when it was read from the store.
	digest string
}

// Handle returns version n (0 = the primary) and its backend handle.
// newOutput says whether the operation makes a new output (sign, encrypt)
// or checks an old one (verify, decrypt).
func (e *Entry) Handle(n uint32, newOutput bool) (*keys.Version, backends.Key, error) {
	k := e.Key
	switch k.State {
	case keys.Enabled:
	case keys.Disabled:
		return nil, nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is disabled", k.Name)
	default:
		return nil, nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s", k.Name, k.State)
	}
	var v *keys.Version
	if n == 0 {
		if v = k.Primary(); v == nil {
			return nil, nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q has no active version", k.Name)
		}
	} else if v = k.Version(n); v == nil {
		return nil, nil, kgerr.Errorf(kgerr.NotFound, "key %q has no version %d", k.Name, n)
	}
	if !v.Usable(newOutput) {
		return nil, nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q version %d is %s", k.Name, v.Number, v.State)
	}
	h, ok := e.handles[v.Number]
	if err := e.openErrs[v.Number]; !ok && err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, kgerr.Errorf(kgerr.Unavailable, "key %q version %d could not be opened in its backend", k.Name, v.Number)
	}
	return v, h, nil
}

// Keyring resolves logical keys.
type Keyring struct {
	store    keys.Store
	backends map[string]backends.Backend
	arn      func(name string) string
	refresh  time.Duration
	maxStale time.Duration
	now      func() time.Time
	verify   func(ctx context.Context, k *keys.Key, digest string) error

	mu      sync.RWMutex
	entries map[string]*Entry
}

// Options configure a Keyring.
type Options struct {
	// ARN makes a key's ARN from its name (arn:aws:kms:REGION:ACCOUNT:key/NAME).
	ARN func(name string) string
	// Refresh is how long a cached key is trusted before it is re-read
	// from the store; 0 means 5s.
	Refresh time.Duration
	// MaxStale is how old a cached key may get while the store cannot be
	// read before Resolve refuses it; 0 means 4 × Refresh.
	MaxStale time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Verify, if set, checks a key row read from the store against the
	// digest (keys.RowDigest) that the audit chain last recorded for it,
	// so that a row written behind keygate's back is refused; it is asked
	// again only when the row changes.
	Verify func(ctx context.Context, k *keys.Key, digest string) error
}

// New returns a Keyring over store with the configured backends by name.
func New(store keys.Store, bs map[string]backends.Backend, opts Options) *Keyring {
	if opts.Refresh == 0 {
		opts.Refresh = 5 * time.Second
	}
	if opts.MaxStale <= 0 {
		opts.MaxStale = 4 * opts.Refresh
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ARN == nil {
		opts.ARN = func(name string) string { return "key/" + name }
	}
	return &Keyring{store: store, backends: bs, arn: opts.ARN, refresh: opts.Refresh, maxStale: opts.MaxStale, now: opts.Now,
		verify: opts.Verify, entries: map[string]*Entry{}}
}

// Backend returns a configured backend by name.
func (r *Keyring) Backend(name string) (backends.Backend, error) {
	b, ok := r.backends[name]
	if !ok {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "no backend named %q is configured", name)
	}
	return b, nil
}

// Resolve returns the entry for a key name, from the cache when fresh.
func (r *Keyring) Resolve(ctx context.Context, name string) (*Entry, error) {
	r.mu.RLock()
	e := r.entries[name]
	r.mu.RUnlock()
	if e != nil {
		// A negative age means the clock went back: not fresh.
		age := r.now().Sub(e.loaded)
		switch {
		case age >= 0 && age < r.refresh:
			return e, nil // fresh
		case e.reloading.CompareAndSwap(false, true):
			defer e.reloading.Store(false)
		case age >= 0 && age < r.maxStale:
			return e, nil // another caller is refreshing it
		}
		// Too old to serve while someone else waits on the store: read it
		// here too.
	}
	if !keys.ValidName(name) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "key_id %q is not a valid key name", name)
	}
	k, err := r.store.GetKey(ctx, name)
	if err != nil {
		if e != nil && kgerr.KindOf(err) == kgerr.Unavailable {
			if age := r.now().Sub(e.loaded); age >= 0 && age < r.maxStale {
				return e, nil // the store blipped; the cached key is still the best answer
			}
			return nil, kgerr.Wrap(kgerr.Unavailable, err, fmt.Sprintf(
				"key %q: the key store cannot be read and the cached copy is older than %s", name, r.maxStale))
		}
		if kgerr.KindOf(err) == kgerr.NotFound {
			r.forget(name)
		}
		return nil, err
	}
	for range 2 { // a row read just before a change committed: read it again
		ne, err := r.install(ctx, k, e, false)
		if !errors.Is(err, ErrStaleRead) {
			return ne, err
		}
		if k, err = r.store.GetKey(ctx, name); err != nil {
			return nil, err
		}
	}
	return r.install(ctx, k, e, false)
}

// ErrStaleRead is what Options.Verify returns for a row read just before
// a change to it committed (the audit chain already names a newer
// revision): not a row changed behind keygate's back, a row to read again.
var ErrStaleRead = errors.New("the key changed while it was read")

// readChecked reads a key to change it: a row changed behind keygate's
// back must not be written back under an admin's name, which would record
// the outside change as theirs.
func (r *Keyring) readChecked(ctx context.Context, name string) (*keys.Key, error) {
	for try := 0; ; try++ {
		k, err := r.store.GetKey(ctx, name)
		if err != nil || r.verify == nil {
			return k, err
		}
		err = r.verify(ctx, k, keys.RowDigest(k))
		if err == nil || !errors.Is(err, ErrStaleRead) || try == 2 {
			return k, err
		}
	}
}

// Put installs k (as just written to the store) into the cache, so the
// replica that made a change sees it at once.
func (r *Keyring) Put(ctx context.Context, k *keys.Key) (*Entry, error) {
	r.mu.RLock()
	old := r.entries[k.Name]
	r.mu.RUnlock()
	return r.install(ctx, k, old, true)
}

func (r *Keyring) forget(name string) {
	r.mu.Lock()
	delete(r.entries, name)
	r.mu.Unlock()
}

// install builds an entry for k, reusing the handles of old where the
// backend key is the same, and opening the rest. written says k is what
// this replica just wrote (and journaled), not a row read back.
func (r *Keyring) install(ctx context.Context, k *keys.Key, old *Entry, written bool) (*Entry, error) {
	e := &Entry{Key: k, ARN: r.arn(k.Name), handles: make(map[uint32]backends.Key, len(k.Versions)), loaded: r.now(),
		digest: keys.RowDigest(k)}
	if r.verify != nil && !written && (old == nil || old.digest != e.digest) {
		if err := r.verify(ctx, k, e.digest); err != nil {
			return nil, err
		}
	}
	if old != nil && old.digest == e.digest && len(old.openErrs) == 0 {
		e.handles, e.Policy = old.handles, old.Policy
	} else {
		if len(k.Policy) > 0 {
			p, err := policy.Parse(k.Policy)
			if err != nil {
				// Policies are validated before they are stored, so this
				// is a store that was edited behind keygate's back.
				return nil, kgerr.Wrap(kgerr.Internal, err, fmt.Sprintf("key %q has a stored policy that does not parse", k.Name))
			}
			e.Policy = p
		}
		b, err := r.Backend(k.Backend)
		if err != nil {
			return nil, kgerr.Errorf(kgerr.Unavailable, "key %q lives in backend %q, which is not configured", k.Name, k.Backend)
		}
		for _, v := range k.Versions {
			if !v.Usable(false) && v.State != keys.VersionPendingActivation {
				continue
			}
			if old != nil {
				if h, ok := old.handles[v.Number]; ok && h.ID() == v.BackendKeyID {
					e.handles[v.Number] = h
					continue
				}
			}
			h, err := b.Open(ctx, v.BackendKeyID, k.Spec, k.Usage)
			if err != nil {
				if e.openErrs == nil {
					e.openErrs = map[uint32]error{}
				}
				e.openErrs[v.Number] = fmt.Errorf("open key %q version %d: %w", k.Name, v.Number, err)
				continue // tried again at the next refresh
			}
			e.handles[v.Number] = h
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur := r.entries[k.Name]; cur != nil && cur.Key.Revision > k.Revision {
		// A reload that read the store before a change this replica has
		// already installed must not bring the old state back.
		return cur, nil
	}
	r.entries[k.Name] = e
	return e, nil
}

// Opened returns the open handle of version n whatever the key's state,
// for describing a key; ok is false if the version has no open handle.
func (e *Entry) Opened(n uint32) (h backends.Key, ok bool) {
	h, ok = e.handles[n]
	return h, ok
}
