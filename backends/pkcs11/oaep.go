//go:build cgo

package pkcs11

import (
	"crypto/sha256"
	"crypto/subtle"
	"hash"
)

// Some tokens implement CKM_RSA_PKCS_OAEP with SHA-1 only: SoftHSM 2.6
// answers CKR_ARGUMENTS_BAD to any other hashAlg. For them the backend
// decrypts with CKM_RSA_X_509 in the token (the private key still never
// leaves it) and removes the OAEP-SHA-256 padding here. The encoded message
// holds nothing the caller does not get anyway, the plaintext; the decoding
// is constant-time and every failure is the one DecryptFailed error, so it
// is no padding oracle (Manger's attack needs to tell failures apart).

// oaepUnpadSHA256 decodes EME-OAEP (RFC 8017 7.1.2) with SHA-256, MGF1-SHA-256
// and an empty label from em, the raw RSA result, for a k-byte modulus.
func oaepUnpadSHA256(em []byte, k int) ([]byte, bool) {
	const hLen = sha256.Size
	if k < 2*hLen+2 || len(em) > k {
		return nil, false
	}
	// A raw RSA result may come back without its leading zero bytes.
	if len(em) < k {
		em = append(make([]byte, k-len(em), k), em...)
	} else {
		em = append([]byte(nil), em...)
	}
	firstByteIsZero := subtle.ConstantTimeByteEq(em[0], 0)
	seed, db := em[1:hLen+1], em[hLen+1:]
	h := sha256.New()
	mgf1XOR(seed, h, db)
	mgf1XOR(db, h, seed)
	lHash := sha256.Sum256(nil)
	lHashGood := subtle.ConstantTimeCompare(lHash[:], db[:hLen])

	// PS is zeros, then a 0x01, then the message; find the 0x01 without
	// branching on secret data.
	rest := db[hLen:]
	lookingForIndex, index, invalid := 1, 0, 0
	for i := range rest {
		equals0 := subtle.ConstantTimeByteEq(rest[i], 0)
		equals1 := subtle.ConstantTimeByteEq(rest[i], 1)
		index = subtle.ConstantTimeSelect(lookingForIndex&equals1, i, index)
		lookingForIndex = subtle.ConstantTimeSelect(equals1, 0, lookingForIndex)
		invalid = subtle.ConstantTimeSelect(lookingForIndex&^equals0, 1, invalid)
	}
	if firstByteIsZero&lHashGood&^invalid&^lookingForIndex != 1 {
		return nil, false
	}
	return rest[index+1:], true
}

// mgf1XOR XORs out with MGF1(seed) under h.
func mgf1XOR(out []byte, h hash.Hash, seed []byte) {
	var counter [4]byte
	var digest []byte
	for done := 0; done < len(out); {
		h.Reset()
		h.Write(seed)
		h.Write(counter[:])
		digest = h.Sum(digest[:0])
		for i := 0; i < len(digest) && done < len(out); i++ {
			out[done] ^= digest[i]
			done++
		}
		for i := 3; i >= 0; i-- {
			if counter[i]++; counter[i] != 0 {
				break
			}
		}
	}
}
