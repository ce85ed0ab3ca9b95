package threeds

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"math/big"
	"testing"

	"github.com/keygate/keygate/internal/kgerr"
)

func TestParsePeerKeyRefuses(t *testing.T) {
	good, _ := ecdh.P256().GenerateKey(rand.Reader)
	pub := good.PublicKey().Bytes()
	x := base64.RawURLEncoding.EncodeToString(pub[1:33])
	y := base64.RawURLEncoding.EncodeToString(pub[33:])
	// (x, y+1) is off the curve: the classic invalid-curve point.
	yy := new(big.Int).Add(new(big.Int).SetBytes(pub[33:]), big.NewInt(1)).FillBytes(make([]byte, 32))
	offCurve := base64.RawURLEncoding.EncodeToString(yy)
	zero := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	jwk := func(kty, crv, x, y, extra string) string {
		return fmt.Sprintf(`{"kty":%q,"crv":%q,"x":%q,"y":%q%s}`, kty, crv, x, y, extra)
	}
	if _, err := ParsePeerKey([]byte(jwk("EC", "P-256", x, y, `,"kid":"k1"`)), "sdkEphemPubKey"); err != nil {
		t.Fatalf("good key refused: %v", err)
	}
	cases := []struct{ name, jwk, want string }{
		{"not on the curve", jwk("EC", "P-256", x, offCurve, ""), "not on the P-256 curve"},
		{"point at infinity (0,0)", jwk("EC", "P-256", zero, zero, ""), "not on the P-256 curve"},
		{"P-384", jwk("EC", "P-384", x, y, ""), "crv"},
		{"RSA", jwk("RSA", "P-256", x, y, ""), "kty"},
		{"short x", jwk("EC", "P-256", x[:42], y, ""), "sdkEphemPubKey.x must be 32 bytes"},
		{"long y", jwk("EC", "P-256", x, y+"AAAA", ""), "sdkEphemPubKey.y must be 32 bytes"},
		{"padded", jwk("EC", "P-256", x+"=", y, ""), "sdkEphemPubKey.x"},
		{"private part", jwk("EC", "P-256", x, y, `,"d":"AAAA"`), `private key member "d"`},
		{"duplicate x", jwk("EC", "P-256", x, y, fmt.Sprintf(`,"x":%q`, x)), "more than once"},
		{"missing y", fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q}`, x), "sdkEphemPubKey.y is missing"},
		{"x not a string", fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":1,"y":%q}`, y), "must be a string"},
		{"array", `[1,2]`, "must be a JSON object"},
		{"two objects", jwk("EC", "P-256", x, y, "") + "{}", "not valid JSON"},
		{"not JSON", `{"kty":`, "not valid JSON"},
		{"huge", `{"kty":"EC","pad":"` + string(make([]byte, 2000)) + `"}`, "longer than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParsePeerKey([]byte(c.jwk), "sdkEphemPubKey")
			wantKind(t, err, kgerr.InvalidArgument, c.want)
		})
	}
}

// x and y use the base64url alphabet; '+' and '/' are refused.
func TestParsePeerKeyStandardAlphabet(t *testing.T) {
	for range 100 {
		k, _ := ecdh.P256().GenerateKey(rand.Reader)
		p := k.PublicKey().Bytes()
		x := base64.RawStdEncoding.EncodeToString(p[1:33])
		if x == base64.RawURLEncoding.EncodeToString(p[1:33]) {
			continue // no '+' or '/' in this one
		}
		j := fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q}`, x, base64.RawURLEncoding.EncodeToString(p[33:]))
		_, err := ParsePeerKey([]byte(j), "epk")
		wantKind(t, err, kgerr.InvalidArgument, "epk.x must be 32 bytes of unpadded base64url")
		return
	}
	t.Fatal("no key with '+' or '/' in 100 tries")
}
