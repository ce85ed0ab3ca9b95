//go:build cgo

package pkcs11

import (
	"context"
	"crypto/ecdh"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// DeriveSharedSecret runs CKM_ECDH1_DERIVE (no KDF) with the peer's
// uncompressed point. The result lands in a session object, which is read
// and destroyed at once: Z must not outlive the call in the token.
func (k *Key) DeriveSharedSecret(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error) {
	if err := k.needUsage("DeriveSharedSecret", keys.KeyAgreement); err != nil {
		return nil, err
	}
	want := ecdh.P256()
	if k.spec == keys.ECCNISTP384 {
		want = ecdh.P384()
	}
	if peer == nil || peer.Curve() != want {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "peer public key: not on the curve of key spec %s", k.spec)
	}
	if k.b.cloudHSM {
		return nil, k.b.errCloudHSMECDH(k.spec)
	}
	if err := k.b.canDo("DeriveSharedSecret", p11.CKM_ECDH1_DERIVE, p11.CKF_DERIVE); err != nil {
		return nil, err
	}
	size := specSize(k.spec)
	mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDH1_DERIVE,
		p11.NewECDH1DeriveParams(p11.CKD_NULL, nil, peer.Bytes()))}
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_GENERIC_SECRET),
		p11.NewAttribute(p11.CKA_VALUE_LEN, size),
		p11.NewAttribute(p11.CKA_TOKEN, false),
		p11.NewAttribute(p11.CKA_SENSITIVE, false),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, true),
	}
	var z []byte
	err := k.do(ctx, "derive shared secret", func(s p11.SessionHandle, h p11.ObjectHandle) error {
		obj, err := k.b.api.DeriveKey(s, mech, h, tmpl)
		if err != nil {
			return fmt.Errorf("C_DeriveKey: %w", err)
		}
		defer k.b.api.DestroyObject(s, obj)
		got, err := k.b.api.GetAttributeValue(s, obj, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
		if err != nil {
			return fmt.Errorf("C_GetAttributeValue(CKA_VALUE): %w", err)
		}
		z = got[0].Value
		return nil
	})
	if err == nil && len(z) != size {
		return nil, kgerr.Errorf(kgerr.Internal, "pkcs11 backend %q: key %s: ECDH gave %d bytes", k.b.name, k.id, len(z))
	}
	return z, err
}
