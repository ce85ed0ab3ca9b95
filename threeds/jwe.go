package threeds

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"strings"

	"github.com/keygate/keygate/internal/kgerr"
)

// Enc is a JWE content encryption algorithm that EMV 3DS allows.
type Enc string

const (
	A128CBCHS256 Enc = "A128CBC-HS256" // the default
	A128GCM      Enc = "A128GCM"
)

// Valid reports whether e is one of the two 3DS content encryptions.
func (e Enc) Valid() bool { return e == A128CBCHS256 || e == A128GCM }

// DecryptFailedMsg is the one message for every tag, padding or key-unwrap
// failure, so that nobody learns which check failed (no padding oracle).
const DecryptFailedMsg = "JWE could not be decrypted: it was altered, or the session or key is wrong"

func decryptFailed() error { return kgerr.Errorf(kgerr.InvalidArgument, DecryptFailedMsg) }

// compactJWE is a parsed JWE compact serialization.
type compactJWE struct {
	rawHeader                   string // base64url as received: the AAD
	header                      []byte // decoded protected header JSON
	encKey, iv, ciphertext, tag []byte
}

// parseCompact splits and decodes a JWE compact serialization of at most
// max characters (bound names the spec's figure). Structural faults name
// the field; a tag of the wrong length is left to the tag check so it gets
// the one decryption error.
func parseCompact(s, field string, max int, bound string) (*compactJWE, error) {
	if len(s) > max {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s is %d characters; EMV 3DS 2.3.1 allows at most %d (%s)", field, len(s), max, bound)
	}
	parts := strings.Split(s, ".")
	if len(parts) != 5 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s: a JWE compact serialization has 5 parts, this has %d", field, len(parts))
	}
	names := [5]string{"protected header", "encrypted key", "iv", "ciphertext", "tag"}
	var dec [5][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s: the %s is not unpadded base64url", field, names[i])
		}
		dec[i] = b
	}
	if len(dec[0]) == 0 || len(dec[3]) == 0 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s: the protected header and ciphertext must not be empty", field)
	}
	return &compactJWE{rawHeader: parts[0], header: dec[0], encKey: dec[1], iv: dec[2], ciphertext: dec[3], tag: dec[4]}, nil
}

// ivSize is the IV length of enc.
func ivSize(enc Enc) int {
	if enc == A128GCM {
		return 12
	}
	return aes.BlockSize
}

// sealContent encrypts plaintext with enc under key (32 bytes for
// A128CBC-HS256, 16 for A128GCM) and the given IV.
func sealContent(enc Enc, key, iv, plaintext, aad []byte) (ciphertext, tag []byte, err error) {
	if enc == A128GCM {
		g, err := gcmSealer(key)
		if err != nil {
			return nil, nil, err
		}
		out := g.Seal(nil, iv, plaintext, aad)
		return out[:len(plaintext)], out[len(plaintext):], nil
	}
	block, _ := aes.NewCipher(key[16:]) // 16 bytes: cannot fail
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	ct := make([]byte, len(plaintext)+pad)
	copy(ct, plaintext)
	for i := len(plaintext); i < len(ct); i++ {
		ct[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	return ct, cbcTag(key[:16], aad, iv, ct), nil
}

// openContent reverses sealContent. Every failure is decryptFailed().
func openContent(enc Enc, key, iv, ciphertext, tag, aad []byte) ([]byte, error) {
	if len(iv) != ivSize(enc) || len(tag) != 16 {
		return nil, decryptFailed()
	}
	if enc == A128GCM {
		in := make([]byte, 0, len(iv)+len(ciphertext)+len(tag))
		in = append(append(append(in, iv...), ciphertext...), tag...)
		pt, err := gcmOpener(key).Open(nil, nil, in, aad)
		if err != nil {
			return nil, decryptFailed()
		}
		return pt, nil
	}
	// Encrypt-then-MAC: the tag is checked before any padding is looked at.
	if !hmac.Equal(cbcTag(key[:16], aad, iv, ciphertext), tag) || len(ciphertext)%aes.BlockSize != 0 {
		return nil, decryptFailed()
	}
	block, _ := aes.NewCipher(key[16:])
	pt := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(pt, ciphertext)
	pad := int(pt[len(pt)-1])
	good := subtle.ConstantTimeLessOrEq(1, pad) & subtle.ConstantTimeLessOrEq(pad, aes.BlockSize)
	for i := 1; i <= aes.BlockSize; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad)
		good &= subtle.ConstantTimeSelect(inPad, subtle.ConstantTimeByteEq(pt[len(pt)-i], byte(pad)), 1)
	}
	if good != 1 {
		return nil, decryptFailed()
	}
	return pt[:len(pt)-pad], nil
}

// cbcTag is the A128CBC-HS256 tag: the first 16 bytes of
// HMAC-SHA-256(macKey, AAD || IV || C || AL), AL = AAD bit length, 64-bit BE.
func cbcTag(macKey, aad, iv, ct []byte) []byte {
	m := hmac.New(sha256.New, macKey)
	m.Write(aad)
	m.Write(iv)
	m.Write(ct)
	var al [8]byte
	binary.BigEndian.PutUint64(al[:], uint64(len(aad))*8)
	m.Write(al[:])
	return m.Sum(nil)[:16]
}

// gcmSealer is AES-GCM under a caller-chosen IV, which A128GCM needs: EMV
// 3DS fixes the IV (FF×11 ‖ acsCounterAtoS). Go's FIPS 140-3 module seals
// GCM only under IVs it makes itself, so in FIPS 140-only mode (GODEBUG
// fips140=only) this is refused, with an error that says so.
func gcmSealer(key []byte) (cipher.AEAD, error) {
	g, err := cipher.NewGCM(aesBlock(key))
	if err != nil {
		return nil, kgerr.Wrap(kgerr.FailedPrecondition, err,
			"A128GCM: AES-GCM encryption under the IV EMV 3DS fixes (FF×11 ‖ acsCounterAtoS) is not allowed in FIPS 140-only mode; use A128CBC-HS256")
	}
	return g, nil
}

// gcmOpener is AES-GCM decryption of iv ‖ ciphertext ‖ tag. It goes through
// the random-nonce AEAD, which reads the IV from the input's first 12
// bytes, because that is the module's way to decrypt under any IV: GCM
// decryption is approved whatever the IV (NIST SP 800-38D constrains the
// encrypting side), and cipher.NewGCM is refused in FIPS 140-only mode.
func gcmOpener(key []byte) cipher.AEAD {
	g, err := cipher.NewGCMWithRandomNonce(aesBlock(key))
	if err != nil {
		panic("threeds: " + err.Error()) // an AES block always makes one
	}
	return g
}

func aesBlock(key []byte) cipher.Block {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("threeds: AES-GCM key must be 16 bytes") // every caller passes a CEK half
	}
	return block
}
