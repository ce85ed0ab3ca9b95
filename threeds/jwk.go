package threeds

import (
	"crypto/ecdh"
	"encoding/base64"

	"github.com/keygate/keygate/internal/kgerr"
)

// maxJWK bounds a peer's JWK; a P-256 public JWK is about 130 bytes.
const maxJWK = 1024

// privateJWKMembers are the JWK members that carry private key material
// (RFC 7518 section 6). A peer must never send them.
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ParsePeerKey validates a peer's ephemeral public key given as a JWK (the
// SDK's sdkEphemPubKey from the AReq, or the epk of an sdkEncData JWE) and
// returns it ready for ECDH. It must be {"kty":"EC","crv":"P-256"} with x and
// y each exactly 32 bytes of unpadded base64url, a point on the curve (hence
// not the point at infinity), and no private part. Every refusal is
// kgerr.InvalidArgument naming field, and happens before any ECDH, so an
// invalid-curve point never reaches a backend.
func ParsePeerKey(jwk []byte, field string) (*ecdh.PublicKey, error) {
	if len(jwk) > maxJWK {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s: longer than %d bytes", field, maxJWK)
	}
	m, err := objectMembers(jwk, field)
	if err != nil {
		return nil, err
	}
	for _, p := range privateJWKMembers {
		if _, ok := m[p]; ok {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s: must not contain private key member %q", field, p)
		}
	}
	kty, err := requiredString(m, "kty", field)
	if err != nil {
		return nil, err
	}
	if kty != "EC" {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s.kty must be \"EC\"", field)
	}
	crv, err := requiredString(m, "crv", field)
	if err != nil {
		return nil, err
	}
	if crv != "P-256" {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s.crv must be \"P-256\"", field)
	}
	point := make([]byte, 1, 65)
	point[0] = 4 // SEC 1 uncompressed
	for _, c := range []string{"x", "y"} {
		s, err := requiredString(m, c, field)
		if err != nil {
			return nil, err
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s.%s must be 32 bytes of unpadded base64url", field, c)
		}
		point = append(point, b...)
	}
	pub, err := ecdh.P256().NewPublicKey(point)
	if err != nil {
		return nil, kgerr.Wrap(kgerr.InvalidArgument, err, field+": the point (x, y) is not on the P-256 curve")
	}
	return pub, nil
}

// PublicJWK is the compact JWK of a P-256 public key, members in the order
// of the EMVCo samples: {"kty":"EC","crv":"P-256","x":…,"y":…}.
func PublicJWK(pub *ecdh.PublicKey) []byte {
	b := pub.Bytes() // 0x04 || x || y
	x := base64.RawURLEncoding.EncodeToString(b[1:33])
	y := base64.RawURLEncoding.EncodeToString(b[33:65])
	return []byte(`{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}`)
}
