//go:build cgo

package pkcs11

import (
	"context"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// run calls fn with a pooled session and the key's handle, finding the
// object again once if the token says the handle went stale.
func (k *Key) run(ctx context.Context, fn func(s p11.SessionHandle, h p11.ObjectHandle) error) error {
	return k.b.pool.withSession(ctx, func(s p11.SessionHandle) error {
		h, err := k.handle(s)
		if err != nil {
			return err
		}
		err = fn(s, h)
		if handleLost(err) {
			if h, err = k.refind(s); err != nil {
				return err
			}
			err = fn(s, h)
		}
		return err
	})
}

// do is run with token errors turned into *kgerr.Error.
func (k *Key) do(ctx context.Context, op string, fn func(s p11.SessionHandle, h p11.ObjectHandle) error) error {
	return k.b.fail(op, k.id, k.run(ctx, fn))
}

// needUsage refuses an operation the key's usage does not allow.
func (k *Key) needUsage(op string, want keys.Usage) error {
	if k.usage == want {
		return nil
	}
	return kgerr.Errorf(kgerr.FailedPrecondition, "key %s has key usage %s; %s needs %s", k.id, k.usage, op, want)
}

// signOnce runs C_SignInit and C_Sign, the pair Sign and MAC share.
func (k *Key) signOnce(s p11.SessionHandle, h p11.ObjectHandle, mech []*p11.Mechanism, in []byte) ([]byte, error) {
	if err := k.b.api.SignInit(s, mech, h); err != nil {
		return nil, fmt.Errorf("C_SignInit: %w", err)
	}
	out, err := k.b.api.Sign(s, in)
	if err != nil {
		return nil, fmt.Errorf("C_Sign: %w", err)
	}
	return out, nil
}

// Mechanisms without parameters, or with constant ones, are built once;
// the module only reads them.
var (
	mechECDSA   = []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}
	mechRSAPKCS = []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS, nil)}
	mechPSS     = map[int][]*p11.Mechanism{
		32: {p11.NewMechanism(p11.CKM_RSA_PKCS_PSS, p11.NewPSSParams(p11.CKM_SHA256, p11.CKG_MGF1_SHA256, 32))},
		48: {p11.NewMechanism(p11.CKM_RSA_PKCS_PSS, p11.NewPSSParams(p11.CKM_SHA384, p11.CKG_MGF1_SHA384, 48))},
		64: {p11.NewMechanism(p11.CKM_RSA_PKCS_PSS, p11.NewPSSParams(p11.CKM_SHA512, p11.CKG_MGF1_SHA512, 64))},
	}
	mechHMAC = map[keys.MacAlgorithm][]*p11.Mechanism{
		keys.HMACSHA256: {p11.NewMechanism(p11.CKM_SHA256_HMAC, nil)},
		keys.HMACSHA384: {p11.NewMechanism(p11.CKM_SHA384_HMAC, nil)},
		keys.HMACSHA512: {p11.NewMechanism(p11.CKM_SHA512_HMAC, nil)},
	}
	// digestInfo is the DER DigestInfo prefix PKCS#1 v1.5 signs, by digest size.
	digestInfo = map[int][]byte{
		32: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
		48: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
		64: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
	}
)
