package harness

import (
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
)

// The 3DS SDK's side of the key agreement, written from the EMV spec
// independently of package threeds, for the tests that play the SDK.

var sdkB64 = base64.RawURLEncoding

// SDKJWK is k's public key as the SDK sends it (sdkEphemPubKey).
func SDKJWK(k *ecdh.PrivateKey) []byte {
	p := k.PublicKey().Bytes()
	return []byte(fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":"%s","y":"%s"}`, sdkB64.EncodeToString(p[1:33]), sdkB64.EncodeToString(p[33:])))
}

// SDKAgree derives the CEK as the SDK does from the other side's JWK: ECDH,
// then the 3DS Concat KDF with PartyVInfo = partyV (the SDK Reference
// Number, or the DS's id for a DS key).
func SDKAgree(k *ecdh.PrivateKey, peerJWK []byte, partyV string) ([]byte, error) {
	var j struct{ X, Y string }
	if err := json.Unmarshal(peerJWK, &j); err != nil {
		return nil, err
	}
	x, _ := sdkB64.DecodeString(j.X)
	y, _ := sdkB64.DecodeString(j.Y)
	pub, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, err
	}
	z, err := k.ECDH(pub)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte{0, 0, 0, 1})
	h.Write(z)
	h.Write(make([]byte, 8)) // AlgorithmID and PartyUInfo: empty
	binary.Write(h, binary.BigEndian, uint32(len(partyV)))
	h.Write([]byte(partyV))
	h.Write([]byte{0, 0, 1, 0})
	return h.Sum(nil), nil
}
