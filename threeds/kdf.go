package threeds

import (
	"crypto/sha256"
	"encoding/binary"
)

// ConcatKDF is the single-step key derivation of NIST SP 800-56A rev. 3
// (section 5.8.2.1) with SHA-256, as JOSE uses it (RFC 7518 section 4.6.2):
// OtherInfo = AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo, where
// each of the first three is len32 || data and SuppPubInfo is keyBits as a
// 32-bit big-endian integer. It returns keyBits/8 bytes; keyBits must be a
// positive multiple of 8.
func ConcatKDF(z, algorithmID, partyUInfo, partyVInfo []byte, keyBits int) []byte {
	if keyBits <= 0 || keyBits%8 != 0 {
		panic("threeds: ConcatKDF keyBits must be a positive multiple of 8")
	}
	out := make([]byte, 0, keyBits/8+sha256.Size)
	var buf [4]byte
	for counter := uint32(1); len(out) < keyBits/8; counter++ {
		h := sha256.New()
		binary.BigEndian.PutUint32(buf[:], counter)
		h.Write(buf[:])
		h.Write(z)
		for _, info := range [][]byte{algorithmID, partyUInfo, partyVInfo} {
			binary.BigEndian.PutUint32(buf[:], uint32(len(info)))
			h.Write(buf[:])
			h.Write(info)
		}
		binary.BigEndian.PutUint32(buf[:], uint32(keyBits))
		h.Write(buf[:])
		out = h.Sum(out)
	}
	return out[:keyBits/8]
}

// KDF3DS is EMV 3DS's use of the Concat KDF: AlgorithmID and PartyUInfo
// empty, PartyVInfo = partyV (the SDK Reference Number for the challenge
// session key, the DS ID for sdkEncData under an EC DS key), and always 256
// bits whatever the content encryption. It is not JOSE's ECDH-ES, which puts
// enc in AlgorithmID and sizes the key to enc.
func KDF3DS(z []byte, partyV string) []byte {
	return ConcatKDF(z, nil, nil, []byte(partyV), 256)
}
