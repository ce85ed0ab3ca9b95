package keyring

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Automatic rotation periods, as KMS's EnableKeyRotation allows them.
const (
	MinRotationPeriod = 90 * 24 * time.Hour
	MaxRotationPeriod = 2560 * 24 * time.Hour
	// A cryptoperiod is from one day to ten years.
	MinCryptoperiod = 24 * time.Hour
	MaxCryptoperiod = 3650 * 24 * time.Hour
)

// checkPeriods validates a key's rotation period and cryptoperiod (0
// means none, and the configured default, respectively).
func checkPeriods(spec keys.Spec, rotation, crypto time.Duration) []string {
	var probs []string
	if rotation != 0 {
		if rotation < MinRotationPeriod || rotation > MaxRotationPeriod {
			probs = append(probs, "rotation_period_in_days must be between 90 and 2560")
		} else if spec != keys.SymmetricDefault && !spec.IsHMAC() {
			probs = append(probs, "rotation_period_in_days applies to SYMMETRIC_DEFAULT and HMAC keys; "+
				"an asymmetric key rotates by keys rotate, its certificate, then keys activate")
		}
	}
	if crypto != 0 && (crypto < MinCryptoperiod || crypto > MaxCryptoperiod) {
		probs = append(probs, "cryptoperiod_days must be between 1 and 3650")
	}
	return probs
}

// SetPeriods changes a key's rotation period and cryptoperiod; nil leaves
// one as it is.
func (r *Keyring) SetPeriods(ctx context.Context, name string, rotation, crypto *time.Duration) (*Entry, error) {
	return r.Update(ctx, name, func(k *keys.Key) error {
		rot, cp := k.RotationPeriod, k.Cryptoperiod
		if rotation != nil {
			rot = *rotation
		}
		if crypto != nil {
			cp = *crypto
		}
		if probs := checkPeriods(k.Spec, rot, cp); len(probs) > 0 {
			return kgerr.Errorf(kgerr.InvalidArgument, "invalid key periods: %s", join(probs))
		}
		k.RotationPeriod, k.Cryptoperiod = rot, cp
		return nil
	})
}

// RotateDue rotates every enabled key whose rotation period has passed
// since its primary was made, and returns their names. One key's failure
// does not stop the others; the errors are joined.
func (r *Keyring) RotateDue(ctx context.Context) ([]string, error) {
	var done []string
	var errs []error
	err := keys.EachKey(ctx, r.store, func(k *keys.Key) error {
		p := k.Primary()
		if k.RotationPeriod == 0 || k.State != keys.Enabled || p == nil || r.now().Sub(p.CreatedAt) < k.RotationPeriod {
			return nil
		}
		if _, _, err := r.Rotate(ctx, k.Name); err != nil {
			errs = append(errs, err) // one key's failure does not stop the others
			return nil
		}
		done = append(done, k.Name)
		return nil
	})
	return done, errors.Join(append(errs, err)...)
}

// DestroyDue destroys every PENDING_DELETION version whose waiting period
// is over, as KMS deletes a key at the end of its own, and returns them as
// "name/vN". One failure does not stop the others; the errors are joined.
func (r *Keyring) DestroyDue(ctx context.Context) ([]string, error) {
	var done []string
	var errs []error
	err := keys.EachKey(ctx, r.store, func(k *keys.Key) error {
		for _, v := range k.Versions {
			if v.State != keys.VersionPendingDeletion || r.now().Before(v.DeletionAt) {
				continue
			}
			if _, t, err := r.Destroy(ctx, k.Name, v.Number); err != nil {
				errs = append(errs, err)
			} else {
				done = append(done, k.Name+"/v"+strconv.FormatUint(uint64(t.Version), 10))
			}
		}
		return nil
	})
	return done, errors.Join(append(errs, err)...)
}
