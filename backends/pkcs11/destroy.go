//go:build cgo

package pkcs11

import (
	"context"
	"encoding/hex"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/internal/kgerr"
)

// DestroyKey destroys every object with the key's CKA_ID (a key pair's two
// halves, or a secret key). `keygated qualify` uses it to leave the token
// as it found it.
func (b *Backend) DestroyKey(ctx context.Context, id string) error {
	rawID, err := hex.DecodeString(id)
	if err != nil || len(rawID) == 0 {
		return kgerr.Errorf(kgerr.NotFound, "pkcs11 backend %q: no key %q (ids are CKA_IDs in hex)", b.name, id)
	}
	err = b.pool.withSession(ctx, func(s p11.SessionHandle) error {
		if err := b.api.FindObjectsInit(s, []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, rawID)}); err != nil {
			return fmt.Errorf("C_FindObjectsInit: %w", err)
		}
		found, _, err := b.api.FindObjects(s, 16)
		if ferr := b.api.FindObjectsFinal(s); err == nil && ferr != nil {
			err = ferr
		}
		if err != nil {
			return fmt.Errorf("C_FindObjects: %w", err)
		}
		if len(found) == 0 {
			return kgerr.Errorf(kgerr.NotFound, "pkcs11 backend %q: no key %s", b.name, id)
		}
		for _, h := range found {
			if err := b.api.DestroyObject(s, h); err != nil {
				return fmt.Errorf("C_DestroyObject: %w", err)
			}
		}
		return nil
	})
	return b.fail("destroy", id, err)
}
