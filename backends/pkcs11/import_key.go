//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// badMaterial is the one refusal of material that does not unwrap into the
// key asked for: it says what was expected, never what was found inside.
func badMaterial(req backends.ImportRequest, why string) error {
	return kgerr.Errorf(kgerr.InvalidArgument, "key material is not a %s key wrapped with %s under this import's wrapping key: %s",
		req.Spec, req.Algorithm, why)
}

// ImportKey unwraps the material into a token object with a fresh CKA_ID,
// sensitive and never extractable, with only its usage's capabilities;
// material of the wrong size or type is refused and its object destroyed.
func (b *Backend) ImportKey(ctx context.Context, req backends.ImportRequest) (string, error) {
	if !req.Spec.Valid() || !req.Spec.Allows(req.Usage) {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "key spec %s does not allow key usage %s", req.Spec, req.Usage)
	}
	symmetric := req.Spec == keys.SymmetricDefault || req.Spec.IsHMAC()
	switch {
	case req.Spec.IsEC() && ecImportable(req) != "":
		return "", kgerr.Errorf(kgerr.FailedPrecondition, "pkcs11 backend %q: %s", b.name, ecImportable(req))
	case !symmetric && !req.Algorithm.AESKeyWrap():
		return "", kgerr.Errorf(kgerr.InvalidArgument, "a %s private key is longer than one RSA block: wrap it with RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1", req.Spec)
	}
	wrapRaw, err := hex.DecodeString(req.WrappingKeyID)
	if err != nil || len(wrapRaw) == 0 {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "wrapping key id %q is not a hex CKA_ID", req.WrappingKeyID)
	}
	const rsaBlock = backends.WrappingKeyBits / 8
	if req.Algorithm.AESKeyWrap() && len(req.Material) <= rsaBlock+8 || !req.Algorithm.AESKeyWrap() && len(req.Material) != rsaBlock {
		return "", badMaterial(req, fmt.Sprintf("%d bytes is not a possible size", len(req.Material)))
	}
	// AES key wrap with padding (RFC 5649) gives 8 bytes more than the key
	// rounded up to 8 bytes: the size is checked here, before any unwrap.
	if n := specSize(req.Spec); symmetric && req.Algorithm.AESKeyWrap() && len(req.Material) != rsaBlock+(n+7)/8*8+8 {
		return "", badMaterial(req, fmt.Sprintf("the material is not %d bytes", n))
	}
	rawID := make([]byte, 16)
	rand.Read(rawID)
	id := hex.EncodeToString(rawID)
	tmpl := b.importTemplate(req, rawID)
	err = b.pool.withTokenWrite(ctx, func(s p11.SessionHandle) error {
		wrapH, err := b.findUnwrapper(s, wrapRaw)
		if err != nil {
			return err
		}
		var obj p11.ObjectHandle
		if !req.Algorithm.AESKeyWrap() {
			obj, err = b.api.UnwrapKey(s, oaepMech(req.Algorithm), wrapH, req.Material, tmpl)
			err = b.unwrapErr(req, err)
		} else {
			obj, err = b.unwrapTwoStep(s, wrapH, req, tmpl)
		}
		if err != nil {
			return err
		}
		if err := b.checkImported(s, obj, req); err != nil {
			return errors.Join(err, b.api.DestroyObject(s, obj))
		}
		switch {
		case req.Spec.IsRSA():
			return b.addPublicHalf(s, obj, rawID, req)
		case req.Spec.IsEC():
			return b.addECPublicHalf(s, obj, rawID, req)
		}
		return nil
	})
	if err != nil {
		var ke *kgerr.Error
		if !errors.As(err, &ke) {
			// Not the token refusing the material: clear what may be left.
			if derr := b.Destroy(context.WithoutCancel(ctx), id); derr != nil {
				err = errors.Join(err, fmt.Errorf("imported key %s left in the token: %w", id, derr))
			}
		}
		return "", b.fail("import a "+string(req.Spec)+" key", "", err)
	}
	return id, nil
}

// unwrapTwoStep is RSA_AES_KEY_WRAP: the first RSA block is the ephemeral
// AES key under OAEP, the rest the material under AES key wrap with
// padding (RFC 5649). The AES key is a session object, destroyed at once.
func (b *Backend) unwrapTwoStep(s p11.SessionHandle, wrapH p11.ObjectHandle, req backends.ImportRequest, tmpl []*p11.Attribute) (p11.ObjectHandle, error) {
	const rsaBlock = backends.WrappingKeyBits / 8
	aes, err := b.api.UnwrapKey(s, oaepMech(req.Algorithm), wrapH, req.Material[:rsaBlock], ephemeralAES())
	if err != nil {
		return 0, b.unwrapErr(req, err)
	}
	defer b.api.DestroyObject(s, aes)
	obj, err := b.api.UnwrapKey(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_WRAP_PAD, nil)}, aes, req.Material[rsaBlock:], tmpl)
	return obj, b.unwrapErr(req, err)
}

// unwrapErr turns the token's refusals of the material into badMaterial;
// session and device errors stay what they are, for the pool to handle.
func (b *Backend) unwrapErr(req backends.ImportRequest, err error) error {
	switch rv(err) {
	case 0:
		return err
	case p11.CKR_ENCRYPTED_DATA_INVALID, p11.CKR_ENCRYPTED_DATA_LEN_RANGE, p11.CKR_WRAPPED_KEY_INVALID,
		p11.CKR_WRAPPED_KEY_LEN_RANGE, p11.CKR_TEMPLATE_INCONSISTENT, p11.CKR_ATTRIBUTE_VALUE_INVALID,
		p11.CKR_KEY_SIZE_RANGE, p11.CKR_GENERAL_ERROR, p11.CKR_FUNCTION_FAILED, p11.CKR_DATA_INVALID:
		return badMaterial(req, "the token could not unwrap it")
	}
	if refusedParams(err) {
		return b.lacksForImport(req.Algorithm, oaepName(req.Algorithm))
	}
	return fmt.Errorf("C_UnwrapKey: %w", err)
}

// importTemplate is the new key's template: the same attributes CreateKey
// gives a generated key of the spec and usage.
func (b *Backend) importTemplate(req backends.ImportRequest, rawID []byte) []*p11.Attribute {
	t := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_ID, rawID), p11.NewAttribute(p11.CKA_LABEL, req.Label),
		p11.NewAttribute(p11.CKA_PRIVATE, true), p11.NewAttribute(p11.CKA_SENSITIVE, true), p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false), p11.NewAttribute(p11.CKA_DERIVE, false),
	}
	mac, sv, ed := req.Spec.IsHMAC(), req.Usage == keys.SignVerify, req.Usage == keys.EncryptDecrypt
	switch {
	case req.Spec == keys.SymmetricDefault:
		t = append(t, p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_ENCRYPT, true), p11.NewAttribute(p11.CKA_DECRYPT, true),
			p11.NewAttribute(p11.CKA_SIGN, false), p11.NewAttribute(p11.CKA_VERIFY, false), p11.NewAttribute(p11.CKA_WRAP, false))
	case mac:
		t = append(t, p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_GENERIC_SECRET),
			p11.NewAttribute(p11.CKA_ENCRYPT, false), p11.NewAttribute(p11.CKA_DECRYPT, false),
			p11.NewAttribute(p11.CKA_SIGN, true), p11.NewAttribute(p11.CKA_VERIFY, true), p11.NewAttribute(p11.CKA_WRAP, false))
	case req.Spec.IsEC():
		t = append(t, p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
			p11.NewAttribute(p11.CKA_SIGN, sv), p11.NewAttribute(p11.CKA_DECRYPT, false), p11.NewAttribute(p11.CKA_SIGN_RECOVER, false))
	default:
		t = append(t, p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA),
			p11.NewAttribute(p11.CKA_SIGN, sv), p11.NewAttribute(p11.CKA_DECRYPT, ed), p11.NewAttribute(p11.CKA_SIGN_RECOVER, false))
	}
	return b.profileTemplate(t)
}

// checkImported reads back what the token made: the type and size must be
// the spec's (a 16-byte AES key is not SYMMETRIC_DEFAULT).
func (b *Backend) checkImported(s p11.SessionHandle, obj p11.ObjectHandle, req backends.ImportRequest) error {
	k := &Key{b: b, spec: req.Spec, usage: req.Usage}
	if err := k.check(s, obj); err != nil {
		var ke *kgerr.Error
		if errors.As(err, &ke) {
			return badMaterial(req, "it unwraps to a key of another type or size")
		}
		return err
	}
	// A token that does not record an unwrapped key's CKA_VALUE_LEN
	// (SoftHSM 2.6) cannot say whether OAEP carried a key of the right
	// size; with AES key wrap the size was checked from the wrapped length.
	if strings.HasPrefix(k.prov.SizeFrom, "the declared spec") && !req.Algorithm.AESKeyWrap() {
		return kgerr.Errorf(kgerr.FailedPrecondition,
			"token %s does not report an unwrapped key's size (CKA_VALUE_LEN), so keygate cannot check it: wrap the material with RSA_AES_KEY_WRAP_SHA_1 or RSA_AES_KEY_WRAP_SHA_256, whose size keygate checks", b.name)
	}
	return nil
}

// addPublicHalf makes the public key object that Open reads, from the
// imported private key's public attributes.
func (b *Backend) addPublicHalf(s p11.SessionHandle, priv p11.ObjectHandle, rawID []byte, req backends.ImportRequest) error {
	got, err := b.api.GetAttributeValue(s, priv, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_MODULUS, nil), p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, nil)})
	if err != nil {
		return fmt.Errorf("C_GetAttributeValue(imported key): %w", err)
	}
	sv, ed := req.Usage == keys.SignVerify, req.Usage == keys.EncryptDecrypt
	_, err = b.api.CreateObject(s, b.profileTemplate([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA),
		p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_PRIVATE, false),
		p11.NewAttribute(p11.CKA_ID, rawID), p11.NewAttribute(p11.CKA_LABEL, req.Label),
		p11.NewAttribute(p11.CKA_MODULUS, got[0].Value), p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, got[1].Value),
		p11.NewAttribute(p11.CKA_VERIFY, sv), p11.NewAttribute(p11.CKA_ENCRYPT, ed),
		p11.NewAttribute(p11.CKA_WRAP, false), p11.NewAttribute(p11.CKA_VERIFY_RECOVER, false)}))
	if err != nil {
		return fmt.Errorf("C_CreateObject(public half): %w", err)
	}
	return nil
}
