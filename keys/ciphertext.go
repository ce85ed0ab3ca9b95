package keys

import (
	"encoding/binary"

	"github.com/keygate/keygate/internal/kgerr"
)

// A keygate ciphertext names the key version that made it, so Decrypt
// needs no key id and keeps working after rotation:
//
//	"KG" | 0x01 | len(name) u8 | name | version u32 BE | algorithm u8 | backend blob
const (
	ctMagic0, ctMagic1, ctFormat = 'K', 'G', 1
	ctHeaderMin                  = 3 + 1 + 1 + 4 + 1
)

var algCodes = []EncryptionAlgorithm{1: SymmetricDefaultAlg, 2: RSAESOAEPSHA256}

// Ciphertext is a parsed keygate ciphertext.
type Ciphertext struct {
	Key       string
	Version   uint32
	Algorithm EncryptionAlgorithm
	Blob      []byte // the backend's own ciphertext
}

// Marshal encodes c.
func (c *Ciphertext) Marshal() []byte {
	code := 0
	for i, a := range algCodes {
		if a == c.Algorithm && a != "" {
			code = i
		}
	}
	out := make([]byte, 0, ctHeaderMin+len(c.Key)+len(c.Blob))
	out = append(out, ctMagic0, ctMagic1, ctFormat, byte(len(c.Key)))
	out = append(out, c.Key...)
	out = binary.BigEndian.AppendUint32(out, c.Version)
	out = append(out, byte(code))
	return append(out, c.Blob...)
}

// ParseCiphertext decodes a keygate ciphertext. It checks only the framing;
// the backend authenticates the blob.
func ParseCiphertext(b []byte) (*Ciphertext, error) {
	bad := kgerr.Errorf(kgerr.InvalidArgument, "ciphertext_blob is not a keygate ciphertext")
	if len(b) < ctHeaderMin || b[0] != ctMagic0 || b[1] != ctMagic1 || b[2] != ctFormat {
		return nil, bad
	}
	n := int(b[3])
	if len(b) < ctHeaderMin+n || n == 0 {
		return nil, bad
	}
	name := string(b[4 : 4+n])
	rest := b[4+n:]
	code := int(rest[4])
	if code == 0 || code >= len(algCodes) || !ValidName(name) {
		return nil, bad
	}
	return &Ciphertext{Key: name, Version: binary.BigEndian.Uint32(rest), Algorithm: algCodes[code], Blob: rest[5:]}, nil
}
