//go:build cgo

package pkcs11key

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	p11 "github.com/miekg/pkcs11"
)

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
)

// publicKey reads the private key's public half: RSA's modulus and
// exponent are attributes of the private key itself; an EC key's point is
// on its public key object or its certificate, found by the same CKA_ID.
func (k *Key) publicKey() (crypto.PublicKey, error) {
	attrs, err := k.lib.GetAttributeValue(k.session, k.priv, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_KEY_TYPE, nil), p11.NewAttribute(p11.CKA_ID, nil)})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: the private key's attributes: %w", err)
	}
	keyType, id := attrs[0].Value, attrs[1].Value
	switch toUint(keyType) {
	case p11.CKK_RSA:
		a, err := k.lib.GetAttributeValue(k.session, k.priv, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_MODULUS, nil), p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, nil)})
		if err != nil {
			return nil, fmt.Errorf("pkcs11: the RSA key's modulus: %w", err)
		}
		e := new(big.Int).SetBytes(a[1].Value)
		if !e.IsInt64() || e.Int64() > 1<<31-1 || e.Int64() < 3 {
			return nil, errors.New("pkcs11: the RSA key's public exponent is out of range")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(a[0].Value), E: int(e.Int64())}
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("pkcs11: the RSA key has %d bits; at least 2048 are needed", pub.N.BitLen())
		}
		return pub, nil
	case p11.CKK_EC:
		return k.ecPublicKey(id)
	}
	return nil, fmt.Errorf("pkcs11: key type %#x: only EC (P-256, P-384) and RSA keys sign in TLS here", toUint(keyType))
}

func (k *Key) ecPublicKey(id []byte) (crypto.PublicKey, error) {
	a, err := k.lib.GetAttributeValue(k.session, k.priv, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_PARAMS, nil)})
	if err != nil {
		return nil, fmt.Errorf("pkcs11: the EC key's curve: %w", err)
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(a[0].Value, &oid); err != nil {
		return nil, errors.New("pkcs11: the EC key's CKA_EC_PARAMS is not a named curve")
	}
	var curve elliptic.Curve
	switch {
	case oid.Equal(oidP256):
		curve = elliptic.P256()
	case oid.Equal(oidP384):
		curve = elliptic.P384()
	default:
		return nil, fmt.Errorf("pkcs11: EC curve %v: only P-256 and P-384 sign in TLS here", oid)
	}
	if hs, err := k.objects(p11.CKO_PUBLIC_KEY, "", id); err == nil && len(hs) == 1 {
		if a, err := k.lib.GetAttributeValue(k.session, hs[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_POINT, nil)}); err == nil {
			return ecPoint(curve, a[0].Value)
		}
	}
	if hs, err := k.objects(p11.CKO_CERTIFICATE, "", id); err == nil && len(hs) == 1 {
		if a, err := k.lib.GetAttributeValue(k.session, hs[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)}); err == nil {
			cert, err := x509.ParseCertificate(a[0].Value)
			if err != nil {
				return nil, fmt.Errorf("pkcs11: the key's certificate on the token: %w", err)
			}
			return cert.PublicKey, nil
		}
	}
	return nil, fmt.Errorf("pkcs11: %s has no public key or certificate with the EC key's id (%x)", k.uri.tokenName(), id)
}

// ecPoint reads CKA_EC_POINT: a DER OCTET STRING holding the uncompressed
// point, or (some tokens) the raw point.
func ecPoint(curve elliptic.Curve, v []byte) (*ecdsa.PublicKey, error) {
	var raw []byte
	if rest, err := asn1.Unmarshal(v, &raw); err != nil || len(rest) > 0 {
		raw = v
	}
	size := (curve.Params().BitSize + 7) / 8
	if len(raw) != 1+2*size || raw[0] != 4 {
		return nil, errors.New("pkcs11: the EC public key is not an uncompressed point")
	}
	pub := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(raw[1 : 1+size]), Y: new(big.Int).SetBytes(raw[1+size:])}
	if !curve.IsOnCurve(pub.X, pub.Y) {
		return nil, errors.New("pkcs11: the EC public key is not on its curve")
	}
	return pub, nil
}

// toUint reads a CK_ULONG attribute value (native byte order, as miekg/pkcs11 encodes it).
func toUint(b []byte) uint {
	var n uint
	for i := len(b) - 1; i >= 0; i-- {
		n = n<<8 | uint(b[i])
	}
	return n
}
