package backends

import (
	"encoding/binary"
	"slices"
)

// ContextAAD is the canonical encoding of an encryption context, used as the
// authenticated data of a symmetric ciphertext. Keys are sorted and every key
// and value is prefixed by its 4-byte big-endian length, so two different
// contexts never encode to the same bytes ({"a":"bc"} vs {"ab":"c"}), and
// the encoding does not depend on map order. An empty or nil context is
// empty AAD.
func ContextAAD(encCtx map[string]string) []byte {
	if len(encCtx) == 0 {
		return nil
	}
	names := make([]string, 0, len(encCtx))
	size := 4
	for k, v := range encCtx {
		names = append(names, k)
		size += 8 + len(k) + len(v)
	}
	slices.Sort(names)
	out := make([]byte, 0, size)
	// The pair count comes first so a prefix of a context's encoding is never
	// itself a valid encoding of a smaller context.
	out = binary.BigEndian.AppendUint32(out, uint32(len(names)))
	for _, k := range names {
		v := encCtx[k]
		out = binary.BigEndian.AppendUint32(out, uint32(len(k)))
		out = append(out, k...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(v)))
		out = append(out, v...)
	}
	return out
}
