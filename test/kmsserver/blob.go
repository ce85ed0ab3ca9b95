package kmsserver

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"slices"

	"github.com/google/uuid"
)

// A symmetric ciphertext blob, like KMS's, names the key that made it:
//
//	version(1) ‖ key id (16, raw uuid) ‖ nonce(12) ‖ AES-256-GCM(plaintext) ‖ tag(16)
//
// The header and the canonical encryption context are the GCM additional
// data, so a blob moved to another key id, or opened with another
// context, fails authentication.
const (
	blobVersion = 1
	blobHeader  = 1 + 16 + 12
	blobMin     = blobHeader + 16
)

func seal(k *key, plaintext []byte, ec map[string]string) []byte {
	id := uuid.MustParse(k.id)
	header := append([]byte{blobVersion}, id[:]...)
	header = append(header, randBytes(12)...)
	aead := gcm(k.secret)
	return aead.Seal(header, header[17:], plaintext, aad(header, ec))
}

func open(k *key, blob []byte, ec map[string]string) ([]byte, bool) {
	if len(blob) < blobMin || blob[0] != blobVersion {
		return nil, false
	}
	header := blob[:blobHeader]
	plain, err := gcm(k.secret).Open(nil, header[17:], blob[blobHeader:], aad(header, ec))
	return plain, err == nil
}

// blobKeyID reads the key id a symmetric blob names.
func blobKeyID(blob []byte) (string, bool) {
	if len(blob) < blobMin || blob[0] != blobVersion {
		return "", false
	}
	id, err := uuid.FromBytes(blob[1:17])
	if err != nil {
		return "", false
	}
	return id.String(), true
}

func gcm(secret []byte) cipher.AEAD {
	block, err := aes.NewCipher(secret)
	if err != nil {
		panic(err) // secrets are always 32 bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead
}

// aad is the header followed by the encryption context, sorted by key,
// each key and value length-prefixed so no two contexts encode alike.
func aad(header []byte, ec map[string]string) []byte {
	out := slices.Clone(header)
	names := make([]string, 0, len(ec))
	for n := range ec {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out = binary.BigEndian.AppendUint32(out, uint32(len(n)))
		out = append(out, n...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(ec[n])))
		out = append(out, ec[n]...)
	}
	return out
}
