//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// DER-encoded curve OIDs, as CKA_EC_PARAMS holds them.
var (
	oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}
	oidP384 = []byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}
)

// specSize is the key size a spec asks for: RSA modulus bits, symmetric
// key bytes, or EC coordinate bytes.
func specSize(s keys.Spec) int {
	switch s {
	case keys.ECCNISTP256, keys.SymmetricDefault, keys.HMAC256:
		return 32
	case keys.ECCNISTP384, keys.HMAC384:
		return 48
	case keys.HMAC512:
		return 64
	case keys.HMAC160:
		return 20
	case keys.RSA2048:
		return 2048
	case keys.RSA3072:
		return 3072
	case keys.RSA4096:
		return 4096
	}
	return 0
}

// CreateKey generates a key inside the token: a token object, private,
// sensitive and never extractable, with a random 16-byte CKA_ID (CloudHSM
// requires ids to be unique) and only the capabilities its usage needs.
// The id returned is the CKA_ID in hex.
func (b *Backend) CreateKey(ctx context.Context, req backends.CreateRequest) (string, error) {
	if !req.Spec.Valid() || !req.Spec.Allows(req.Usage) {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "key spec %s does not allow key usage %s", req.Spec, req.Usage)
	}
	if err := b.canCreate(backends.KeyKind{Spec: req.Spec, Usage: req.Usage}); err != nil {
		return "", err
	}
	// Every capability is spelled out: token defaults differ (SoftHSM2
	// lets a new AES key sign and an HMAC key encrypt).
	use := func(sign, decrypt, derive bool) []*p11.Attribute {
		return []*p11.Attribute{
			p11.NewAttribute(p11.CKA_SIGN, sign), p11.NewAttribute(p11.CKA_DECRYPT, decrypt),
			p11.NewAttribute(p11.CKA_DERIVE, derive), p11.NewAttribute(p11.CKA_UNWRAP, false),
			p11.NewAttribute(p11.CKA_SIGN_RECOVER, false)}
	}
	pubUse := func(verify, encrypt bool) []*p11.Attribute {
		return []*p11.Attribute{p11.NewAttribute(p11.CKA_VERIFY, verify), p11.NewAttribute(p11.CKA_ENCRYPT, encrypt),
			p11.NewAttribute(p11.CKA_WRAP, false), p11.NewAttribute(p11.CKA_VERIFY_RECOVER, false)}
	}
	secretUse := func(mac bool) []*p11.Attribute {
		return []*p11.Attribute{
			p11.NewAttribute(p11.CKA_ENCRYPT, !mac), p11.NewAttribute(p11.CKA_DECRYPT, !mac),
			p11.NewAttribute(p11.CKA_SIGN, mac), p11.NewAttribute(p11.CKA_VERIFY, mac),
			p11.NewAttribute(p11.CKA_WRAP, false), p11.NewAttribute(p11.CKA_UNWRAP, false),
			p11.NewAttribute(p11.CKA_DERIVE, false)}
	}
	sv, ed, ka := req.Usage == keys.SignVerify, req.Usage == keys.EncryptDecrypt, req.Usage == keys.KeyAgreement

	var id string
	err := b.pool.withTokenWrite(ctx, func(s p11.SessionHandle) error {
		// A fresh id per attempt: if a lost session makes the pool retry
		// after the token made the key, the two objects do not share an id.
		rawID := make([]byte, 16)
		rand.Read(rawID)
		id = hex.EncodeToString(rawID)
		common := []*p11.Attribute{
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_ID, rawID),
			p11.NewAttribute(p11.CKA_LABEL, req.Label),
		}
		secret := append(common[:len(common):len(common)],
			p11.NewAttribute(p11.CKA_PRIVATE, true),
			p11.NewAttribute(p11.CKA_SENSITIVE, true),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, false))
		public := append(common[:len(common):len(common)], p11.NewAttribute(p11.CKA_PRIVATE, false))
		var err error
		switch {
		case req.Spec.IsEC():
			oid := oidP256
			if req.Spec == keys.ECCNISTP384 {
				oid = oidP384
			}
			pub := append(public, p11.NewAttribute(p11.CKA_EC_PARAMS, oid))
			pub = append(pub, pubUse(sv, false)...)
			_, _, err = b.api.GenerateKeyPair(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)},
				b.profileTemplate(pub), b.profileTemplate(append(secret, use(sv, false, ka)...)))
		case req.Spec.IsRSA():
			pub := append(public, p11.NewAttribute(p11.CKA_MODULUS_BITS, specSize(req.Spec)),
				p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
			pub = append(pub, pubUse(sv, ed)...)
			_, _, err = b.api.GenerateKeyPair(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)},
				b.profileTemplate(pub), b.profileTemplate(append(secret, use(sv, ed, false)...)))
		case req.Spec == keys.SymmetricDefault:
			tmpl := append(secret, p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
				p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES), p11.NewAttribute(p11.CKA_VALUE_LEN, 32))
			tmpl = append(tmpl, secretUse(false)...)
			_, err = b.api.GenerateKey(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, tmpl)
		case req.Spec.IsHMAC():
			tmpl := append(secret, p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
				p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_GENERIC_SECRET),
				p11.NewAttribute(p11.CKA_VALUE_LEN, specSize(req.Spec)))
			tmpl = append(tmpl, secretUse(true)...)
			_, err = b.api.GenerateKey(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_GENERIC_SECRET_KEY_GEN, nil)}, tmpl)
		}
		return err
	})
	if err != nil {
		return "", b.fail("create "+string(req.Spec)+" key", "", err)
	}
	return id, nil
}
