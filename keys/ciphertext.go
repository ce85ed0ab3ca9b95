package keys

import (
	"encoding/binary"
	"maps"
	"strconv"

	"github.com/keygate/keygate/internal/kgerr"
)

// A keygate ciphertext names the key version that made it, so Decrypt
// needs no key id and keeps working after rotation:
//
//	format 2: "KG" | 0x02 | len(name) u16 BE | name | version u32 BE | algorithm u8 | backend blob
//	format 1: "KG" | 0x01 | len(name) u8     | name | version u32 BE | algorithm u8 | backend blob
//
// Format 2 also binds the name and version into the backend's
// authenticated data (see Context), so a header relabelled to another key
// fails to decrypt. Format 1, written before, is still read.
const (
	ctMagic0, ctMagic1 = 'K', 'G'
	ctFormat1          = 1
	ctFormat2          = 2
)

// Bound context keys: the key name and version a format-2 symmetric
// ciphertext is bound to. The "keygate:" prefix is reserved; callers may
// not use it in their own encryption context.
const (
	BoundKeyName    = "keygate:key-name"
	BoundKeyVersion = "keygate:key-version"
	ReservedPrefix  = "keygate:"
)

var algCodes = []EncryptionAlgorithm{1: SymmetricDefaultAlg, 2: RSAESOAEPSHA256}

// Ciphertext is a parsed keygate ciphertext.
type Ciphertext struct {
	Key       string
	Version   uint32
	Algorithm EncryptionAlgorithm
	Blob      []byte // the backend's own ciphertext
	// Format is the header format it was read in; Marshal writes format 2.
	Format byte
}

// Context is the encryption context the backend authenticates for c: the
// caller's, plus the key name and version for a format-2 symmetric
// ciphertext. (RSA-OAEP has no authenticated data; a relabelled RSA
// ciphertext fails because each backend key belongs to one key version.)
func (c *Ciphertext) Context(encCtx map[string]string) map[string]string {
	if c.Format == ctFormat1 || c.Algorithm != SymmetricDefaultAlg {
		return encCtx
	}
	out := make(map[string]string, len(encCtx)+2)
	maps.Copy(out, encCtx)
	out[BoundKeyName] = c.Key
	out[BoundKeyVersion] = strconv.FormatUint(uint64(c.Version), 10)
	return out
}

// Marshal encodes c in format 2, or in format 1 if it was read in format 1
// (its backend blob is bound to that format's context).
func (c *Ciphertext) Marshal() []byte {
	code := 0
	for i, a := range algCodes {
		if a == c.Algorithm && a != "" {
			code = i
		}
	}
	out := make([]byte, 0, 3+2+len(c.Key)+5+len(c.Blob))
	if c.Format == ctFormat1 {
		out = append(out, ctMagic0, ctMagic1, ctFormat1, byte(len(c.Key)))
	} else {
		out = append(out, ctMagic0, ctMagic1, ctFormat2)
		out = binary.BigEndian.AppendUint16(out, uint16(len(c.Key)))
	}
	out = append(out, c.Key...)
	out = binary.BigEndian.AppendUint32(out, c.Version)
	out = append(out, byte(code))
	return append(out, c.Blob...)
}

// ParseCiphertext decodes a keygate ciphertext. It checks only the framing;
// the backend authenticates the blob.
func ParseCiphertext(b []byte) (*Ciphertext, error) {
	bad := kgerr.Errorf(kgerr.InvalidArgument, "ciphertext_blob is not a keygate ciphertext")
	if len(b) < 4 || b[0] != ctMagic0 || b[1] != ctMagic1 {
		return nil, bad
	}
	format, rest := b[2], b[3:]
	var n int
	switch format {
	case ctFormat1:
		n, rest = int(rest[0]), rest[1:]
	case ctFormat2:
		if len(rest) < 2 {
			return nil, bad
		}
		n, rest = int(binary.BigEndian.Uint16(rest)), rest[2:]
	default:
		return nil, bad
	}
	if n == 0 || len(rest) < n+5 {
		return nil, bad
	}
	name := string(rest[:n])
	rest = rest[n:]
	code := int(rest[4])
	if code == 0 || code >= len(algCodes) || !ValidName(name) {
		return nil, bad
	}
	return &Ciphertext{Key: name, Version: binary.BigEndian.Uint32(rest), Algorithm: algCodes[code], Blob: rest[5:], Format: format}, nil
}
