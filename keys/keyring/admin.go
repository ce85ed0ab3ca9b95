package keyring

import (
	"context"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// CreateParams describe a new logical key.
type CreateParams struct {
	Name        string
	Description string
	Spec        keys.Spec
	Usage       keys.Usage
	Backend     string
	// BackendKeyID adopts an existing backend key instead of generating one.
	BackendKeyID   string
	Policy         []byte
	AllowRawSecret bool
	// RotationPeriod and Cryptoperiod as on keys.Key (0: none, default).
	RotationPeriod time.Duration
	Cryptoperiod   time.Duration
	// Opened, if set, sees the backend key once it is open and before the
	// key is recorded, so what it learns (an adopted key's provenance) goes
	// into the record of the change.
	Opened func(backends.Key)
}

// Validate reports every problem with p at once.
func (p *CreateParams) Validate() error {
	var probs []string
	if !keys.ValidName(p.Name) {
		probs = append(probs, "key_id must be "+keys.NameRule)
	}
	if !p.Spec.Valid() {
		probs = append(probs, "key_spec "+quote(string(p.Spec))+" is not supported")
	}
	if !p.Usage.Valid() {
		probs = append(probs, "key_usage "+quote(string(p.Usage))+" is not a KMS key usage")
	} else if p.Spec.Valid() && !p.Spec.Allows(p.Usage) {
		probs = append(probs, "key_usage "+string(p.Usage)+" is not allowed for key_spec "+string(p.Spec))
	}
	if len(p.Description) > 8192 {
		probs = append(probs, "description is longer than 8192 characters")
	}
	if p.AllowRawSecret && p.Usage != keys.KeyAgreement {
		probs = append(probs, "allow_raw_shared_secret applies only to KEY_AGREEMENT keys")
	}
	if p.Spec.Valid() {
		probs = append(probs, checkPeriods(p.Spec, p.RotationPeriod, p.Cryptoperiod)...)
	}
	if len(probs) > 0 {
		return kgerr.Errorf(kgerr.InvalidArgument, "invalid key: %s", join(probs))
	}
	return nil
}

// Create makes a key with version 1 active: generated in the backend, or
// adopted when p.BackendKeyID is set.
func (r *Keyring) Create(ctx context.Context, p CreateParams) (*Entry, error) {
	b, err := r.prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	id := p.BackendKeyID
	record := func() (*Entry, error) {
		// Open checks that an adopted key really has the spec and usage,
		// and gives the canonical id (a KMS ARN for an alias).
		h, err := b.Open(ctx, id, p.Spec, p.Usage)
		if err != nil {
			return nil, err
		}
		if p.Opened != nil {
			p.Opened(h)
		}
		now := r.now().UTC()
		k := &keys.Key{
			Name: p.Name, Description: p.Description, Spec: p.Spec, Usage: p.Usage, Backend: b.Name(),
			State: keys.Enabled, Policy: p.Policy, AllowRawSecret: p.AllowRawSecret, CreatedAt: now,
			RotationPeriod: p.RotationPeriod, Cryptoperiod: p.Cryptoperiod,
			Versions: []keys.Version{{Number: 1, State: keys.VersionActive, BackendKeyID: h.ID(), CreatedAt: now,
				Origin: keys.OriginGenerated, Token: tokenAttrs(h)}},
		}
		if p.BackendKeyID != "" {
			k.Versions[0].Origin = keys.OriginAdopted
		}
		if err := r.store.CreateKey(ctx, k); err != nil {
			return nil, err
		}
		return r.Put(ctx, k)
	}
	if id != "" {
		return record() // an adopted key is not ours to destroy
	}
	if id, err = b.CreateKey(ctx, backendsCreate(p)); err != nil {
		return nil, err
	}
	return r.orphanSafe(ctx, b, id, record)
}

// Update applies change to the stored key and caches the result. change
// gets a private copy; returning an error aborts.
func (r *Keyring) Update(ctx context.Context, name string, change func(*keys.Key) error) (*Entry, error) {
	k, err := r.readChecked(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := change(k); err != nil {
		return nil, err
	}
	if err := r.store.UpdateKey(ctx, k); err != nil {
		return nil, err
	}
	return r.Put(ctx, k)
}

// SetState enables or disables a key.
func (r *Keyring) SetState(ctx context.Context, name string, state keys.KeyState) (*Entry, error) {
	return r.Update(ctx, name, func(k *keys.Key) error {
		if k.State == keys.PendingDeletion {
			return kgerr.Errorf(kgerr.FailedPrecondition, "key %q is pending deletion", name)
		}
		k.State = state
		return nil
	})
}

// List returns up to limit keys after the name `after`, as stored.
func (r *Keyring) List(ctx context.Context, after string, limit int) ([]*keys.Key, error) {
	return r.store.ListKeys(ctx, after, limit)
}

// Each calls f with every stored key (keys.EachKey).
func (r *Keyring) Each(ctx context.Context, f func(*keys.Key) error) error {
	return keys.EachKey(ctx, r.store, f)
}

// Now is the keyring's clock.
func (r *Keyring) Now() time.Time { return r.now() }

// prepare checks what Create needs before it touches the backend: valid
// parameters, a configured backend and a free name.
func (r *Keyring) prepare(ctx context.Context, p CreateParams) (backends.Backend, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := r.Backend(p.Backend)
	if err != nil {
		return nil, err
	}
	if _, err := r.store.GetKey(ctx, p.Name); err == nil {
		return nil, kgerr.Errorf(kgerr.AlreadyExists, "key %q already exists", p.Name)
	} else if kgerr.KindOf(err) != kgerr.NotFound {
		return nil, err
	}
	return b, nil
}

// CheckAdoption checks that Create could adopt p.BackendKeyID now, for an
// adoption that waits for a second admin: the checks of Create, and the
// backend key opens with the spec and usage. It changes nothing and
// returns the opened key.
func (r *Keyring) CheckAdoption(ctx context.Context, p CreateParams) (backends.Key, error) {
	if p.BackendKeyID == "" {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "backend_key_id: required to adopt a key")
	}
	b, err := r.prepare(ctx, p)
	if err != nil {
		return nil, err
	}
	return b.Open(ctx, p.BackendKeyID, p.Spec, p.Usage)
}
