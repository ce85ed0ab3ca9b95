//go:build cgo

package pkcs11

import (
	"context"
	"crypto/fips140"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math/big"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

var _ backends.Importer = (*Backend)(nil)

// Bring your own key: the operator wraps material under an RSA 3072 key
// pair made in the token, and C_UnwrapKey makes it a token object that is
// sensitive and never extractable. The material is never in keygate's
// memory: only the wrapped blob passes through.

// oaepMech is CKM_RSA_PKCS_OAEP with the algorithm's hash.
func oaepMech(alg backends.WrappingAlgorithm) []*p11.Mechanism {
	h, mgf := uint(p11.CKM_SHA_1), uint(p11.CKG_MGF1_SHA1)
	if alg.SHA256() {
		h, mgf = p11.CKM_SHA256, p11.CKG_MGF1_SHA256
	}
	return []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_OAEP, p11.NewOAEPParams(h, mgf, p11.CKZ_DATA_SPECIFIED, nil))}
}

// oaepName names the OAEP step of alg in refusals.
func oaepName(alg backends.WrappingAlgorithm) string {
	if alg.SHA256() {
		return "CKM_RSA_PKCS_OAEP with SHA-256"
	}
	return "CKM_RSA_PKCS_OAEP with SHA-1"
}

// refusedParams are the token's answers to a mechanism parameter it does
// not implement (SoftHSM 2.6: OAEP with anything but SHA-1).
func refusedParams(err error) bool {
	switch rv(err) {
	case p11.CKR_ARGUMENTS_BAD, p11.CKR_MECHANISM_PARAM_INVALID, p11.CKR_MECHANISM_INVALID:
		return true
	}
	return false
}

func (b *Backend) lacksForImport(alg backends.WrappingAlgorithm, what string) error {
	return kgerr.Errorf(kgerr.FailedPrecondition, "token %s lacks %s: import with %s is not possible there", b.name, what, alg)
}

// NewWrappingKey makes the RSA 3072 pair; its private half may unwrap and
// nothing else. It checks that the token unwraps with alg by unwrapping a
// random AES key of its own, so an unsupported algorithm is refused now
// rather than after the operator has wrapped the material.
func (b *Backend) NewWrappingKey(ctx context.Context, req backends.WrappingRequest) (backends.WrappingKey, error) {
	label, alg := req.Label, req.Algorithm
	if !alg.Valid() {
		return backends.WrappingKey{}, kgerr.Errorf(kgerr.InvalidArgument, "wrapping_algorithm %q is not one of RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256", alg)
	}
	if !b.caps.has(p11.CKM_RSA_PKCS_OAEP, p11.CKF_UNWRAP) {
		return backends.WrappingKey{}, b.lacksForImport(alg, "CKM_RSA_PKCS_OAEP (unwrap)")
	}
	if alg.AESKeyWrap() && !b.caps.has(p11.CKM_AES_KEY_WRAP_PAD, p11.CKF_UNWRAP) {
		return backends.WrappingKey{}, b.lacksForImport(alg, "CKM_AES_KEY_WRAP_PAD (unwrap)")
	}
	rawID := make([]byte, 16)
	rand.Read(rawID)
	id := hex.EncodeToString(rawID)
	var pub *rsa.PublicKey
	err := b.pool.withTokenWrite(ctx, func(s p11.SessionHandle) error {
		common := []*p11.Attribute{p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_ID, rawID),
			p11.NewAttribute(p11.CKA_LABEL, label)}
		pubT := append(common[:len(common):len(common)], p11.NewAttribute(p11.CKA_PRIVATE, false),
			p11.NewAttribute(p11.CKA_MODULUS_BITS, backends.WrappingKeyBits), p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}),
			p11.NewAttribute(p11.CKA_WRAP, true), p11.NewAttribute(p11.CKA_ENCRYPT, false),
			p11.NewAttribute(p11.CKA_VERIFY, false), p11.NewAttribute(p11.CKA_VERIFY_RECOVER, false))
		privT := append(common[:len(common):len(common)], p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true), p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
			p11.NewAttribute(p11.CKA_UNWRAP, true), p11.NewAttribute(p11.CKA_DECRYPT, false),
			p11.NewAttribute(p11.CKA_SIGN, false), p11.NewAttribute(p11.CKA_SIGN_RECOVER, false),
			p11.NewAttribute(p11.CKA_DERIVE, false))
		pubH, privH, err := b.api.GenerateKeyPair(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)},
			b.profileTemplate(pubT), b.profileTemplate(privT))
		if err != nil {
			return fmt.Errorf("C_GenerateKeyPair: %w", err)
		}
		got, err := b.api.GetAttributeValue(s, pubH, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_MODULUS, nil), p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, nil)})
		if err != nil {
			return fmt.Errorf("C_GetAttributeValue(wrapping key): %w", err)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(got[0].Value), E: int(new(big.Int).SetBytes(got[1].Value).Int64())}
		return b.probeUnwrap(s, privH, pub, alg)
	})
	if err != nil {
		if derr := b.Destroy(context.WithoutCancel(ctx), id); derr != nil {
			err = errors.Join(err, fmt.Errorf("wrapping key %s left in the token: %w", id, derr))
		}
		return backends.WrappingKey{}, b.fail("make a wrapping key", "", err)
	}
	return backends.WrappingKey{ID: id, Public: pub}, nil
}

// probeUnwrap unwraps a random AES key wrapped with alg's OAEP in Go
// into a session object, and destroys it.
func (b *Backend) probeUnwrap(s p11.SessionHandle, privH p11.ObjectHandle, pub *rsa.PublicKey, alg backends.WrappingAlgorithm) error {
	key := make([]byte, 32)
	rand.Read(key)
	h := newHash(alg)
	wrapped, err := rsa.EncryptOAEP(h, rand.Reader, pub, key, nil)
	if err != nil && !alg.SHA256() && fips140.Enforced() {
		return kgerr.Wrap(kgerr.FailedPrecondition, err, fmt.Sprintf(
			"%s: the RSA-OAEP with SHA-1 that checks the token unwraps it is not allowed in FIPS 140-only mode; use a _SHA_256 wrapping algorithm", alg))
	}
	if err != nil {
		return err
	}
	obj, err := b.api.UnwrapKey(s, oaepMech(alg), privH, wrapped, ephemeralAES())
	if refusedParams(err) {
		return b.lacksForImport(alg, oaepName(alg))
	}
	if err != nil {
		return fmt.Errorf("C_UnwrapKey(probe): %w", err)
	}
	got, err := b.api.GetAttributeValue(s, obj, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE_LEN, nil)})
	if derr := b.api.DestroyObject(s, obj); derr != nil {
		return fmt.Errorf("C_DestroyObject(probe): %w", derr)
	}
	// With OAEP alone only the token can say how long the unwrapped key
	// is; one that does not (SoftHSM 2.6 records no CKA_VALUE_LEN) would
	// let a key of the wrong size in. AES key wrap's length shows it.
	if !alg.AESKeyWrap() && (err != nil || len(got) != 1 || ulong(got[0].Value) != uint(len(key))) {
		return kgerr.Errorf(kgerr.FailedPrecondition,
			"token %s does not report an unwrapped key's size (CKA_VALUE_LEN), so keygate could not check the material: use RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256, whose size keygate checks", b.name)
	}
	return nil
}

// ephemeralAES is the template of the AES key that RSA_AES_KEY_WRAP
// carries: a session object that only unwraps.
func ephemeralAES() []*p11.Attribute {
	return []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
		p11.NewAttribute(p11.CKA_TOKEN, false), p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true), p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_UNWRAP, true), p11.NewAttribute(p11.CKA_ENCRYPT, false),
		p11.NewAttribute(p11.CKA_DECRYPT, false), p11.NewAttribute(p11.CKA_WRAP, false)}
}

// WrappingKeyLabel reads the label of the wrapping key's private half.
func (b *Backend) WrappingKeyLabel(ctx context.Context, id string) (string, error) {
	rawID, err := hex.DecodeString(id)
	if err != nil || len(rawID) == 0 || len(rawID) > 64 {
		return "", kgerr.Errorf(kgerr.NotFound, "pkcs11 backend %q: no wrapping key %q", b.name, id)
	}
	var label string
	err = b.pool.withSession(ctx, func(s p11.SessionHandle) error {
		b.mod.objects.RLock()
		defer b.mod.objects.RUnlock()
		h, err := b.findUnwrapper(s, rawID)
		if err != nil {
			return err
		}
		got, err := b.api.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, nil)})
		if err != nil {
			return fmt.Errorf("C_GetAttributeValue(CKA_LABEL): %w", err)
		}
		label = string(got[0].Value)
		return nil
	})
	return label, b.fail("read a wrapping key", id, err)
}

// findUnwrapper is the private key with rawID that may unwrap. The caller
// holds b.mod.objects (shared, or inside withTokenWrite).
func (b *Backend) findUnwrapper(s p11.SessionHandle, rawID []byte) (p11.ObjectHandle, error) {
	if !loggedIn(b.api, s) {
		return 0, p11.Error(p11.CKR_USER_NOT_LOGGED_IN)
	}
	found, err := findObjectsLocked(b.api, s, []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, rawID),
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_UNWRAP, true)}, 2)
	if err != nil {
		return 0, err
	}
	if len(found) != 1 {
		return 0, kgerr.Errorf(kgerr.NotFound, "pkcs11 backend %q: no wrapping key %x", b.name, rawID)
	}
	return found[0], nil
}

func newHash(alg backends.WrappingAlgorithm) hash.Hash {
	if alg.SHA256() {
		return sha256.New()
	}
	return sha1.New()
}
