//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"sync/atomic"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Key is an open key: its object handle and public key, found once at Open.
type Key struct {
	b      *Backend
	id     string
	rawID  []byte
	spec   keys.Spec
	usage  keys.Usage
	class  uint // CKO_PRIVATE_KEY or CKO_SECRET_KEY
	public crypto.PublicKey
	obj    atomic.Pointer[object]
	// prov is what Open learned about the key's origin and size.
	prov backends.Provenance
}

// object is a cached handle and the module generation it is valid in.
type object struct {
	h   p11.ObjectHandle
	gen uint64
}

var _ backends.Key = (*Key)(nil)

func (k *Key) ID() string               { return k.id }
func (k *Key) Spec() keys.Spec          { return k.spec }
func (k *Key) Usage() keys.Usage        { return k.usage }
func (k *Key) Public() crypto.PublicKey { return k.public }

// Provenance is the key's origin attributes and how its size was
// established, read at Open.
func (k *Key) Provenance() backends.Provenance { return k.prov }

// Open finds the key's object by CKA_ID, checks its type, size and
// capabilities against spec and usage, and caches the handle and the
// public key.
func (b *Backend) Open(ctx context.Context, id string, spec keys.Spec, usage keys.Usage) (backends.Key, error) {
	rawID, err := hex.DecodeString(id)
	if err != nil || len(rawID) == 0 || len(rawID) > 64 {
		return nil, kgerr.Errorf(kgerr.NotFound, "pkcs11 backend %q: no key %q (ids are CKA_IDs in hex)", b.name, id)
	}
	if !spec.Valid() || !spec.Allows(usage) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "key spec %s does not allow key usage %s", spec, usage)
	}
	k := &Key{b: b, id: id, rawID: rawID, spec: spec, usage: usage, class: p11.CKO_PRIVATE_KEY}
	if !spec.IsEC() && !spec.IsRSA() {
		k.class = p11.CKO_SECRET_KEY
	}
	err = b.pool.withSession(ctx, func(s p11.SessionHandle) error {
		gen := b.pool.gen.Load()
		h, err := k.find(s, k.class)
		if err != nil {
			return err
		}
		if err := k.check(s, h); err != nil {
			return err
		}
		if k.class == p11.CKO_PRIVATE_KEY {
			if k.public, err = k.readPublic(s); err != nil {
				return err
			}
		}
		k.obj.Store(&object{h: h, gen: gen})
		return nil
	})
	if err != nil {
		return nil, b.fail("open", id, err)
	}
	return k, nil
}

// find returns the one object of class with the key's CKA_ID.
func (k *Key) find(s p11.SessionHandle, class uint) (p11.ObjectHandle, error) {
	api := k.b.api
	tmpl := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class), p11.NewAttribute(p11.CKA_ID, k.rawID)}
	found, err := k.b.mod.findObjects(api, s, tmpl, 2)
	switch {
	case err != nil:
		return 0, err
	case len(found) == 0 && !loggedIn(api, s):
		// Private objects are invisible to a session that is not logged in
		// (all sessions were closed, which logs the application out): let
		// the pool log in again rather than call the key missing.
		return 0, p11.Error(p11.CKR_USER_NOT_LOGGED_IN)
	case len(found) == 0 && class == p11.CKO_PUBLIC_KEY:
		return 0, kgerr.Errorf(kgerr.FailedPrecondition, "pkcs11 backend %q: key %s has no public key object", k.b.name, k.id)
	case len(found) == 0:
		return 0, kgerr.Errorf(kgerr.NotFound, "pkcs11 backend %q: no key %s", k.b.name, k.id)
	case len(found) > 1:
		return 0, kgerr.Errorf(kgerr.FailedPrecondition, "pkcs11 backend %q: CKA_ID %s names more than one object", k.b.name, k.id)
	}
	return found[0], nil
}

// loggedIn reports whether s sees private objects.
func loggedIn(api api, s p11.SessionHandle) bool {
	info, err := api.GetSessionInfo(s)
	return err == nil && (info.State == p11.CKS_RW_USER_FUNCTIONS || info.State == p11.CKS_RO_USER_FUNCTIONS)
}

// handle is the cached object handle, found again if the module was
// re-initialised since (handles do not survive that).
func (k *Key) handle(s p11.SessionHandle) (p11.ObjectHandle, error) {
	o := k.obj.Load()
	if gen := k.b.pool.gen.Load(); o.gen != gen {
		h, err := k.find(s, k.class)
		if err != nil {
			return 0, err
		}
		o = &object{h: h, gen: gen}
		k.obj.Store(o)
	}
	return o.h, nil
}

// refind drops the cached handle after the token said it is invalid.
func (k *Key) refind(s p11.SessionHandle) (p11.ObjectHandle, error) {
	h, err := k.find(s, k.class)
	if err != nil {
		return 0, err
	}
	k.obj.Store(&object{h: h, gen: k.b.pool.gen.Load()})
	return h, nil
}

// check compares the object's type, size and capabilities with the spec
// and usage the caller expects.
func (k *Key) check(s p11.SessionHandle, h p11.ObjectHandle) error {
	got, err := k.b.api.GetAttributeValue(s, h, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_KEY_TYPE, nil), p11.NewAttribute(capability(k.usage), nil)})
	if err != nil {
		return fmt.Errorf("C_GetAttributeValue: %w", err)
	}
	keyType, canDo := ulong(got[0].Value), len(got[1].Value) > 0 && got[1].Value[0] != 0
	// The size attribute depends on the type, so it is read once the type
	// is known to be right (an EC key has no CKA_MODULUS).
	sizeAttr := uint(p11.CKA_VALUE_LEN)
	switch {
	case k.spec.IsEC() && keyType == p11.CKK_EC:
		sizeAttr = p11.CKA_EC_PARAMS
	case k.spec.IsRSA() && keyType == p11.CKK_RSA:
		sizeAttr = p11.CKA_MODULUS
	case k.spec.IsEC() || k.spec.IsRSA() || keyType == p11.CKK_EC || keyType == p11.CKK_RSA:
		sizeAttr = 0
	}
	var size []byte
	if sizeAttr != 0 {
		got, err := k.b.api.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(sizeAttr, nil)})
		switch {
		case sizeAttr == p11.CKA_VALUE_LEN && rv(err) == p11.CKR_ATTRIBUTE_TYPE_INVALID:
			// Some tokens do not keep CKA_VALUE_LEN on secret keys: as 0, below.
		case err != nil:
			return fmt.Errorf("C_GetAttributeValue: %w", err)
		default:
			size = got[0].Value
		}
	}
	k.prov.SizeFrom = attrName(sizeAttr)
	mismatch := func(what string) error {
		return kgerr.Errorf(kgerr.FailedPrecondition, "pkcs11 backend %q: key %s is not %s %s: %s",
			k.b.name, k.id, k.spec, k.usage, what)
	}
	switch {
	case k.spec.IsEC() && keyType != p11.CKK_EC,
		k.spec.IsRSA() && keyType != p11.CKK_RSA,
		k.spec == keys.SymmetricDefault && keyType != p11.CKK_AES,
		k.spec.IsHMAC() && keyType != p11.CKK_GENERIC_SECRET && keyType != hmacKeyType(k.spec):
		return mismatch(fmt.Sprintf("its CKA_KEY_TYPE is 0x%x", keyType))
	case k.spec == keys.ECCNISTP256 && !bytes.Equal(size, oidP256),
		k.spec == keys.ECCNISTP384 && !bytes.Equal(size, oidP384):
		return mismatch("it is on another curve")
	case k.spec.IsRSA() && new(big.Int).SetBytes(size).BitLen() != specSize(k.spec):
		return mismatch(fmt.Sprintf("its modulus has %d bits", new(big.Int).SetBytes(size).BitLen()))
	case !k.spec.IsEC() && !k.spec.IsRSA() && ulong(size) == 0:
		// The token will not say (opencryptoki and others report 0 for
		// some secret keys): the type matched, so the declared spec stands,
		// and the provenance says so.
		k.prov.SizeFrom = "the declared spec " + string(k.spec) + " (the token reports CKA_VALUE_LEN 0)"
	case !k.spec.IsEC() && !k.spec.IsRSA() && int(ulong(size)) != specSize(k.spec):
		return mismatch(fmt.Sprintf("its CKA_VALUE_LEN is %d", ulong(size)))
	}
	if !canDo {
		return mismatch("the token does not allow that usage")
	}
	return k.checkOrigin(s, h)
}

// checkOrigin refuses a key that could leave the token (issue 11, defect
// 1: an adopted key must be CKA_SENSITIVE and not CKA_EXTRACTABLE) and
// records CKA_LOCAL, CKA_NEVER_EXTRACTABLE and CKA_ALWAYS_SENSITIVE, which
// tell a key generated in the token from one imported into it.
func (k *Key) checkOrigin(s p11.SessionHandle, h p11.ObjectHandle) error {
	flag := func(a uint) (value, known bool) {
		got, err := k.b.api.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(a, nil)})
		if err != nil || len(got) != 1 || len(got[0].Value) == 0 {
			return false, false
		}
		return got[0].Value[0] != 0, true
	}
	sensitive, okS := flag(p11.CKA_SENSITIVE)
	extractable, okE := flag(p11.CKA_EXTRACTABLE)
	if !okS || !okE || !sensitive || extractable {
		return kgerr.Errorf(kgerr.FailedPrecondition,
			"pkcs11 backend %q: key %s can leave the token (CKA_SENSITIVE=%t, CKA_EXTRACTABLE=%t): keygate uses only keys that are sensitive and not extractable",
			k.b.name, k.id, sensitive && okS, extractable || !okE)
	}
	k.prov.Known = true
	k.prov.Local, _ = flag(p11.CKA_LOCAL)
	k.prov.NeverExtractable, _ = flag(p11.CKA_NEVER_EXTRACTABLE)
	k.prov.AlwaysSensitive, _ = flag(p11.CKA_ALWAYS_SENSITIVE)
	return nil
}

// attrName names the size attributes in provenance records.
func attrName(a uint) string {
	switch a {
	case p11.CKA_EC_PARAMS:
		return "CKA_EC_PARAMS"
	case p11.CKA_MODULUS:
		return "CKA_MODULUS"
	case p11.CKA_VALUE_LEN:
		return "CKA_VALUE_LEN"
	}
	return "no attribute"
}

// capability is the attribute a key's usage needs set on its private or
// secret object.
func capability(u keys.Usage) uint {
	switch u {
	case keys.EncryptDecrypt:
		return p11.CKA_DECRYPT
	case keys.KeyAgreement:
		return p11.CKA_DERIVE
	}
	return p11.CKA_SIGN
}

func hmacKeyType(s keys.Spec) uint {
	switch s {
	case keys.HMAC256:
		return p11.CKK_SHA256_HMAC
	case keys.HMAC384:
		return p11.CKK_SHA384_HMAC
	case keys.HMAC160:
		return p11.CKK_SHA_1_HMAC
	}
	return p11.CKK_SHA512_HMAC
}

// ulong decodes a CK_ULONG attribute (native byte order, as the module wrote it).
func ulong(v []byte) uint {
	switch len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v))
	case 4:
		return uint(binary.NativeEndian.Uint32(v))
	}
	return 0
}

// readPublic reads the public key object that shares the key's CKA_ID.
func (k *Key) readPublic(s p11.SessionHandle) (crypto.PublicKey, error) {
	h, err := k.find(s, p11.CKO_PUBLIC_KEY)
	if err != nil {
		return nil, err
	}
	if k.spec.IsRSA() {
		got, err := k.b.api.GetAttributeValue(s, h, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_MODULUS, nil), p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, nil)})
		if err != nil {
			return nil, fmt.Errorf("C_GetAttributeValue(public key): %w", err)
		}
		e := new(big.Int).SetBytes(got[1].Value)
		if !e.IsInt64() || e.Int64() > 1<<31-1 || e.Int64() < 3 {
			return nil, fmt.Errorf("public key of %s: unusable RSA exponent", k.id)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(got[0].Value), E: int(e.Int64())}, nil
	}
	got, err := k.b.api.GetAttributeValue(s, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_POINT, nil)})
	if err != nil {
		return nil, fmt.Errorf("C_GetAttributeValue(public key): %w", err)
	}
	point := got[0].Value
	// The standard says DER OCTET STRING; some modules return the bare point.
	var inner []byte
	if rest, err := asn1.Unmarshal(point, &inner); err == nil && len(rest) == 0 {
		point = inner
	}
	curve := elliptic.P256()
	if k.spec == keys.ECCNISTP384 {
		curve = elliptic.P384()
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
	if err != nil {
		return nil, fmt.Errorf("public key of %s: %w", k.id, err)
	}
	return pub, nil
}
