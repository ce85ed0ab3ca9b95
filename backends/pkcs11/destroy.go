//go:build cgo

package pkcs11

import (
	"context"
	"encoding/hex"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

var _ backends.Deleter = (*Backend)(nil)

// ScheduleDeletion does nothing: a token has no waiting period of its own;
// keygate keeps it and calls Destroy when it is over.
func (b *Backend) ScheduleDeletion(context.Context, string, int) error { return nil }

// CancelDeletion does nothing, as ScheduleDeletion did nothing.
func (b *Backend) CancelDeletion(context.Context, string) error { return nil }

// Destroy destroys every object with the key's CKA_ID (the private and
// public halves of a pair, or the secret key).
func (b *Backend) Destroy(ctx context.Context, id string) error {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return kgerr.Errorf(kgerr.InvalidArgument, "pkcs11 backend %q: key id %q is not a hex CKA_ID", b.name, id)
	}
	err = b.pool.withTokenWrite(ctx, func(s p11.SessionHandle) error {
		if !loggedIn(b.api, s) {
			// Private objects are invisible without a login: let the pool
			// log in again rather than destroy only the public half.
			return p11.Error(p11.CKR_USER_NOT_LOGGED_IN)
		}
		found, err := findObjectsLocked(b.api, s, []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, raw)}, 16)
		if err != nil {
			return err
		}
		for _, o := range found {
			if err := b.api.DestroyObject(s, o); err != nil && !handleLost(err) {
				return fmt.Errorf("C_DestroyObject: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return b.fail("destroy", id, err)
	}
	return nil
}
