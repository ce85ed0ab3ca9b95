package keyring

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// A key version moves PENDING_ACTIVATION -> ACTIVE (the primary) ->
// RETIRED -> PENDING_DELETION -> DESTROYED, one administrative call per
// step; a deletion can be cancelled back to RETIRED within its waiting
// period. Each step is a compare-and-swap on the stored key: of two admins
// racing on one key, one wins and the other gets FailedPrecondition.

// Deletion waiting periods, in days, as KMS's ScheduleKeyDeletion.
const (
	MinDeletionDays     = 7
	MaxDeletionDays     = 30
	DefaultDeletionDays = 30
)

// Step is one version's change of state, for the audit record.
type Step struct {
	Version  uint32
	From, To keys.VersionState
}

// Transition is what a lifecycle call did: the version it was about (the
// audit event's version) and every state it changed.
type Transition struct {
	Version      uint32
	BackendKeyID string
	Steps        []Step
}

// String is the caller-safe account of the change ("v2 PENDING_ACTIVATION
// -> ACTIVE; v1 ACTIVE -> RETIRED").
func (t Transition) String() string {
	parts := make([]string, len(t.Steps))
	for i, s := range t.Steps {
		from := string(s.From)
		if from == "" {
			from = "(new)"
		}
		parts[i] = "v" + strconv.FormatUint(uint64(s.Version), 10) + " " + from + " -> " + string(s.To)
	}
	return strings.Join(parts, "; ")
}

// activeAtOnce reports whether a new version of k becomes primary when it
// is made. Symmetric and HMAC keys: yes, their outputs name the version
// and nobody outside needs the new key first. Asymmetric keys wait in
// PENDING_ACTIVATION: their public key must be certified (a DS's CA) or
// published before they sign or are encrypted to.
func activeAtOnce(k *keys.Key) bool { return k.Spec == keys.SymmetricDefault || k.Spec.IsHMAC() }

// Rotate makes a new version of a key in its backend. For symmetric and
// HMAC keys it becomes the primary and the old primary RETIRED; for
// asymmetric keys it is PENDING_ACTIVATION until Activate.
func (r *Keyring) Rotate(ctx context.Context, name string) (*Entry, Transition, error) {
	return r.newVersion(ctx, name, 0, keys.OriginGenerated, func(b backends.Backend, k *keys.Key, label string, tags map[string]string) (string, error) {
		return b.CreateKey(ctx, backends.CreateRequest{Spec: k.Spec, Usage: k.Usage, Label: label, Tags: tags})
	})
}

// makeFunc makes a new version's backend key, labelled label.
type makeFunc func(b backends.Backend, k *keys.Key, label string, tags map[string]string) (string, error)

// newVersion adds a version made by mk (generated, or imported with
// origin EXTERNAL), with the origin attributes its backend reports to key name. want, if not 0, is the number the caller
// expects the new version to get.
func (r *Keyring) newVersion(ctx context.Context, name string, want uint32, origin string, mk makeFunc) (*Entry, Transition, error) {
	k, err := r.readChecked(ctx, name)
	if err != nil {
		return nil, Transition{}, err
	}
	if k.State != keys.Enabled {
		return nil, Transition{}, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s; only an enabled key rotates", name, k.State)
	}
	var next uint32 = 1
	for _, v := range k.Versions {
		if v.State == keys.VersionPendingActivation {
			return nil, Transition{}, kgerr.Errorf(kgerr.FailedPrecondition,
				"key %q version %d is already PENDING_ACTIVATION; activate it or schedule its deletion first", name, v.Number)
		}
		next = max(next, v.Number+1)
	}
	if want != 0 && want != next {
		return nil, Transition{}, kgerr.Errorf(kgerr.InvalidArgument, "version %d: the next version of key %q is %d", want, name, next)
	}
	b, err := r.Backend(k.Backend)
	if err != nil {
		return nil, Transition{}, err
	}
	v := strconv.FormatUint(uint64(next), 10)
	id, err := mk(b, k, name+"/v"+v, map[string]string{"keygate:name": name, "keygate:version": v})
	if err != nil {
		return nil, Transition{}, err
	}
	t := Transition{Version: next}
	e, err := r.orphanSafe(ctx, b, id, func() (*Entry, error) {
		h, err := b.Open(ctx, id, k.Spec, k.Usage)
		if err != nil {
			return nil, err
		}
		now := r.now().UTC()
		nv := keys.Version{Number: next, State: keys.VersionPendingActivation, BackendKeyID: h.ID(), CreatedAt: now, Origin: origin, Token: tokenAttrs(h)}
		t.BackendKeyID = h.ID()
		if activeAtOnce(k) {
			nv.State = keys.VersionActive
			if p := k.Primary(); p != nil {
				t.Steps = append(t.Steps, Step{p.Number, p.State, keys.VersionRetired})
				p.State = keys.VersionRetired
			}
		}
		t.Steps = append([]Step{{next, "", nv.State}}, t.Steps...)
		k.Versions = append(k.Versions, nv)
		if err := r.store.UpdateKey(ctx, k); err != nil {
			return nil, err
		}
		return r.Put(ctx, k)
	})
	return e, t, err
}

// orphanSafe runs record, which stores a new backend key id; if it fails,
// the backend key it would have recorded is destroyed, so a failed create
// or rotation leaves nothing behind. If even that fails, the error says so
// and names the object for an operator to remove.
func (r *Keyring) orphanSafe(ctx context.Context, b backends.Backend, id string, record func() (*Entry, error)) (*Entry, error) {
	e, err := record()
	if err == nil {
		return e, nil
	}
	d, ok := b.(backends.Deleter)
	if !ok {
		return nil, fmt.Errorf("%w (backend key %s was left in backend %q)", err, id, b.Name())
	}
	if derr := d.Destroy(context.WithoutCancel(ctx), id); derr != nil {
		return nil, errors.Join(err, fmt.Errorf("backend key %s left in backend %q: %w", id, b.Name(), derr))
	}
	return nil, err
}

// Activate makes a PENDING_ACTIVATION version the primary and retires the
// old primary. A signing key whose primary has a certificate chain needs
// one on the new version too: its signatures carry the chain (x5c).
func (r *Keyring) Activate(ctx context.Context, name string, n uint32) (*Entry, Transition, error) {
	return r.transition(ctx, name, n, func(k *keys.Key, v *keys.Version, t *Transition) error {
		if err := canActivate(k, v); err != nil {
			return err
		}
		p := k.Primary()
		t.Steps = append(t.Steps, Step{v.Number, v.State, keys.VersionActive})
		v.State = keys.VersionActive
		if p != nil {
			t.Steps = append(t.Steps, Step{p.Number, p.State, keys.VersionRetired})
			p.State = keys.VersionRetired
		}
		return nil
	})
}

// Retire stops a version making new outputs; what it made still
// verifies and decrypts. Retiring the primary leaves the key without one
// until another version is activated.
func (r *Keyring) Retire(ctx context.Context, name string, n uint32) (*Entry, Transition, error) {
	return r.transition(ctx, name, n, func(k *keys.Key, v *keys.Version, t *Transition) error {
		if err := needState(k, v, keys.VersionActive); err != nil {
			return err
		}
		t.Steps = append(t.Steps, Step{v.Number, v.State, keys.VersionRetired})
		v.State = keys.VersionRetired
		return nil
	})
}

// ScheduleDeletion starts a version's waiting period of days (7-30; 0
// means 30), in keygate and, where the backend has one, in the backend.
// A PENDING_ACTIVATION version that was never used may be deleted too.
func (r *Keyring) ScheduleDeletion(ctx context.Context, name string, n uint32, days int) (*Entry, Transition, error) {
	if days == 0 {
		days = DefaultDeletionDays
	}
	if days < MinDeletionDays || days > MaxDeletionDays {
		return nil, Transition{}, kgerr.Errorf(kgerr.InvalidArgument,
			"pending_window_in_days must be between %d and %d, not %d", MinDeletionDays, MaxDeletionDays, days)
	}
	var (
		d         backends.Deleter
		scheduled string // the backend key whose wait started
	)
	e, t, err := r.transition(ctx, name, n, func(k *keys.Key, v *keys.Version, t *Transition) error {
		if err := canScheduleDeletion(k, v); err != nil {
			return err
		}
		b, err := r.Backend(k.Backend)
		if err != nil {
			return err
		}
		var ok bool
		if d, ok = b.(backends.Deleter); ok {
			if err := d.ScheduleDeletion(ctx, v.BackendKeyID, days); err != nil {
				return err
			}
			scheduled = v.BackendKeyID
		}
		t.Steps = append(t.Steps, Step{v.Number, v.State, keys.VersionPendingDeletion})
		v.State = keys.VersionPendingDeletion
		v.DeletionAt = r.now().UTC().Add(time.Duration(days) * 24 * time.Hour)
		return nil
	})
	if err != nil && scheduled != "" {
		// The backend's wait started but the store refused the change:
		// stop it again, so backend and registry agree.
		err = errors.Join(err, d.CancelDeletion(context.WithoutCancel(ctx), scheduled))
	}
	return e, t, err
}

// CancelDeletion ends a version's waiting period: it is RETIRED again.
func (r *Keyring) CancelDeletion(ctx context.Context, name string, n uint32) (*Entry, Transition, error) {
	return r.transition(ctx, name, n, func(k *keys.Key, v *keys.Version, t *Transition) error {
		if err := needState(k, v, keys.VersionPendingDeletion); err != nil {
			return err
		}
		b, err := r.Backend(k.Backend)
		if err != nil {
			return err
		}
		if d, ok := b.(backends.Deleter); ok {
			if err := d.CancelDeletion(ctx, v.BackendKeyID); err != nil {
				return err
			}
		}
		t.Steps = append(t.Steps, Step{v.Number, v.State, keys.VersionRetired})
		v.State, v.DeletionAt = keys.VersionRetired, time.Time{}
		return nil
	})
}

// Destroy destroys a version whose waiting period is over: the backend
// object goes first (a retry finds it gone and carries on), then the
// version is recorded DESTROYED.
func (r *Keyring) Destroy(ctx context.Context, name string, n uint32) (*Entry, Transition, error) {
	return r.transition(ctx, name, n, func(k *keys.Key, v *keys.Version, t *Transition) error {
		if err := needState(k, v, keys.VersionPendingDeletion); err != nil {
			return err
		}
		if now := r.now(); now.Before(v.DeletionAt) {
			return kgerr.Errorf(kgerr.FailedPrecondition, "key %q version %d is PENDING_DELETION until %s",
				name, v.Number, v.DeletionAt.Format(time.RFC3339))
		}
		b, err := r.Backend(k.Backend)
		if err != nil {
			return err
		}
		d, ok := b.(backends.Deleter)
		if !ok {
			return kgerr.Errorf(kgerr.FailedPrecondition, "backend %q cannot destroy keys", b.Name())
		}
		if err := d.Destroy(ctx, v.BackendKeyID); err != nil {
			return err
		}
		t.Steps = append(t.Steps, Step{v.Number, v.State, keys.VersionDestroyed})
		v.State = keys.VersionDestroyed
		return nil
	})
}

func canActivate(k *keys.Key, v *keys.Version) error {
	if err := needState(k, v, keys.VersionPendingActivation); err != nil {
		return err
	}
	if p := k.Primary(); p != nil && len(p.CertChain) > 0 && len(v.CertChain) == 0 {
		return kgerr.Errorf(kgerr.FailedPrecondition,
			"key %q version %d has no certificate chain and the primary has one; import the chain first", k.Name, v.Number)
	}
	return nil
}

func canScheduleDeletion(k *keys.Key, v *keys.Version) error {
	return needState(k, v, keys.VersionRetired, keys.VersionPendingActivation)
}

// CheckActivate and CheckScheduleDeletion say whether Activate and
// ScheduleDeletion would apply to version n now, without changing
// anything: a request held for a second admin's approval is refused at
// once if it could not run.
func CheckActivate(k *keys.Key, n uint32) error { return check(k, n, canActivate) }

func CheckScheduleDeletion(k *keys.Key, n uint32, days int) error {
	if days != 0 && (days < MinDeletionDays || days > MaxDeletionDays) {
		return kgerr.Errorf(kgerr.InvalidArgument,
			"pending_window_in_days must be between %d and %d, not %d", MinDeletionDays, MaxDeletionDays, days)
	}
	return check(k, n, canScheduleDeletion)
}

func check(k *keys.Key, n uint32, can func(*keys.Key, *keys.Version) error) error {
	if n == 0 {
		return kgerr.Errorf(kgerr.InvalidArgument, "version is required")
	}
	v := k.Version(n)
	if v == nil {
		return kgerr.Errorf(kgerr.NotFound, "key %q has no version %d", k.Name, n)
	}
	return can(k, v)
}

// transition applies change to version n of the stored key and stores the
// result by compare-and-swap.
func (r *Keyring) transition(ctx context.Context, name string, n uint32,
	change func(k *keys.Key, v *keys.Version, t *Transition) error) (*Entry, Transition, error) {
	if n == 0 {
		return nil, Transition{}, kgerr.Errorf(kgerr.InvalidArgument, "version is required")
	}
	t := Transition{Version: n}
	e, err := r.Update(ctx, name, func(k *keys.Key) error {
		v := k.Version(n)
		if v == nil {
			return kgerr.Errorf(kgerr.NotFound, "key %q has no version %d", name, n)
		}
		t.BackendKeyID = v.BackendKeyID
		return change(k, v, &t)
	})
	return e, t, err
}

// needState refuses a transition from any state but want, naming the
// state the version is in.
func needState(k *keys.Key, v *keys.Version, want ...keys.VersionState) error {
	for _, w := range want {
		if v.State == w {
			return nil
		}
	}
	names := make([]string, len(want))
	for i, w := range want {
		names[i] = string(w)
	}
	return kgerr.Errorf(kgerr.FailedPrecondition, "key %q version %d is %s; this needs %s",
		k.Name, v.Number, v.State, strings.Join(names, " or "))
}
