//go:build cgo

package pkcs11

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"fmt"
	"math/big"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Importing an EC private key: C_UnwrapKey of its PKCS#8 (RFC 5915 inside)
// gives a CKK_EC private object with the curve in CKA_EC_PARAMS, but no
// public point: a PKCS#11 2.40 private key object has no attribute for it
// (SoftHSM 2.6 keeps only CKA_VALUE, the secret scalar, which keygate
// never reads). The public key is derived from the key's own work: two
// signatures made in the token over random digests each admit two
// candidate public keys (ECDSA public key recovery, SEC 1 section 4.1.6),
// and exactly one candidate verifies both. It is stored as the public half
// that Open reads, as CreateKey's would be.

// ecImportable says why spec and usage cannot be imported as an EC private
// key here, or "" if they can.
func ecImportable(req backends.ImportRequest) string {
	if req.Usage != keys.SignVerify {
		// ECDH cannot tell the public point from its negation, and a
		// KEY_AGREEMENT key cannot sign: its public key cannot be derived.
		return fmt.Sprintf("importing a %s %s key is not supported on PKCS#11 (its public point cannot be derived without signing); import it on a KMS backend", req.Spec, req.Usage)
	}
	return ""
}

// addECPublicHalf derives the imported EC key's public point and makes the
// public key object Open reads.
func (b *Backend) addECPublicHalf(s p11.SessionHandle, priv p11.ObjectHandle, rawID []byte, req backends.ImportRequest) error {
	got, err := b.api.GetAttributeValue(s, priv, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_PARAMS, nil)})
	if err != nil {
		return fmt.Errorf("C_GetAttributeValue(CKA_EC_PARAMS): %w", err)
	}
	curve := elliptic.P256()
	if req.Spec == keys.ECCNISTP384 {
		curve = elliptic.P384()
	}
	sign := func(digest []byte) ([]byte, error) {
		if err := b.api.SignInit(s, mechECDSA, priv); err != nil {
			return nil, fmt.Errorf("C_SignInit(CKM_ECDSA): %w", err)
		}
		sig, err := b.api.Sign(s, digest)
		if err != nil {
			return nil, fmt.Errorf("C_Sign(CKM_ECDSA): %w", err)
		}
		return sig, nil
	}
	pub, err := derivePublic(curve, sign)
	if err != nil {
		return err
	}
	point, err := asn1.Marshal(elliptic.Marshal(curve, pub.X, pub.Y)) // DER OCTET STRING of the uncompressed point, as CKA_EC_POINT holds it
	if err != nil {
		return err
	}
	_, err = b.api.CreateObject(s, b.profileTemplate([]*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
		p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_PRIVATE, false),
		p11.NewAttribute(p11.CKA_ID, rawID), p11.NewAttribute(p11.CKA_LABEL, req.Label),
		p11.NewAttribute(p11.CKA_EC_PARAMS, got[0].Value), p11.NewAttribute(p11.CKA_EC_POINT, point),
		p11.NewAttribute(p11.CKA_VERIFY, true), p11.NewAttribute(p11.CKA_ENCRYPT, false),
		p11.NewAttribute(p11.CKA_WRAP, false), p11.NewAttribute(p11.CKA_VERIFY_RECOVER, false),
		p11.NewAttribute(p11.CKA_DERIVE, false)}))
	if err != nil {
		return fmt.Errorf("C_CreateObject(public half): %w", err)
	}
	return nil
}

// derivePublic finds the public key of the private key behind sign (raw
// r||s signatures over digests of the curve's size) from two signatures.
func derivePublic(curve elliptic.Curve, sign func(digest []byte) ([]byte, error)) (*ecdsa.PublicKey, error) {
	size := (curve.Params().BitSize + 7) / 8
	type signed struct{ digest, sig []byte }
	var two [2]signed
	for i := range two {
		two[i].digest = make([]byte, size)
		rand.Read(two[i].digest)
		sig, err := sign(two[i].digest)
		if err != nil {
			return nil, err
		}
		if len(sig) != 2*size {
			return nil, kgerr.Errorf(kgerr.Internal, "CKM_ECDSA returned %d bytes, not %d", len(sig), 2*size)
		}
		two[i].sig = sig
	}
	var found *ecdsa.PublicKey
	for _, cand := range recoverCandidates(curve, two[0].digest, two[0].sig) {
		if ecdsa.Verify(cand, two[0].digest, sigR(two[0].sig), sigS(two[0].sig)) &&
			ecdsa.Verify(cand, two[1].digest, sigR(two[1].sig), sigS(two[1].sig)) {
			if found != nil && !found.Equal(cand) {
				return nil, kgerr.Errorf(kgerr.Internal, "two public keys verify the imported key's signatures")
			}
			found = cand
		}
	}
	if found == nil {
		return nil, kgerr.Errorf(kgerr.Internal, "no public key verifies the imported key's signatures")
	}
	return found, nil
}

func sigR(sig []byte) *big.Int { return new(big.Int).SetBytes(sig[:len(sig)/2]) }
func sigS(sig []byte) *big.Int { return new(big.Int).SetBytes(sig[len(sig)/2:]) }

// recoverCandidates are the public keys Q = r⁻¹(sR − eG) for the two
// points R whose x-coordinate is r. (x = r + n, possible only when r < p − n,
// has probability about 2⁻¹²⁸ on P-256 and P-384 and is left out.) Only
// public values take part, so crypto/elliptic's generic (deprecated, not
// constant-time) point arithmetic serves.
func recoverCandidates(curve elliptic.Curve, digest, sig []byte) []*ecdsa.PublicKey {
	params := curve.Params()
	n, size := params.N, (params.BitSize+7)/8
	rr, ss := sigR(sig), sigS(sig)
	if rr.Sign() == 0 || ss.Sign() == 0 || rr.Cmp(n) >= 0 || ss.Cmp(n) >= 0 {
		return nil
	}
	e := new(big.Int).SetBytes(digest) // digests of the curve's size: no truncation
	negE := new(big.Int).Mod(new(big.Int).Neg(e), n)
	rInv := new(big.Int).ModInverse(rr, n)
	var out []*ecdsa.PublicKey
	for _, prefix := range []byte{2, 3} {
		compressed := append([]byte{prefix}, rr.FillBytes(make([]byte, size))...)
		rx, ry := elliptic.UnmarshalCompressed(curve, compressed)
		if rx == nil {
			continue
		}
		sx, sy := curve.ScalarMult(rx, ry, ss.Bytes())
		ex, ey := curve.ScalarBaseMult(negE.Bytes())
		qx, qy := curve.Add(sx, sy, ex, ey)
		qx, qy = curve.ScalarMult(qx, qy, rInv.Bytes())
		if qx.Sign() == 0 && qy.Sign() == 0 || !curve.IsOnCurve(qx, qy) {
			continue
		}
		out = append(out, &ecdsa.PublicKey{Curve: curve, X: qx, Y: qy})
	}
	return out
}
