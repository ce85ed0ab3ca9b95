package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// RowDigest is what the audit chain records of a key's stored row after each
// change ("revision N sha256:HEX"), so that a row changed behind
// keygate's back (a direct database edit) no longer matches the chain.
// It covers every stored field, in a form that does not depend on how a
// store hands the key back: times as UTC nanoseconds, empty and nil alike.
func RowDigest(k *Key) string {
	type version struct {
		Number     uint32
		State      VersionState
		BackendKey string
		Created    int64
		CertChain  [][]byte
		DeletionAt int64
		Origin     string      `json:",omitempty"` // absent when unrecorded: older rows keep their digests
		Token      *TokenAttrs `json:",omitempty"`
	}
	c := struct {
		Name, Description, Backend string
		Spec                       Spec
		Usage                      Usage
		State                      KeyState
		Policy                     string
		AllowRawSecret             bool
		RotationPeriod             int64
		Cryptoperiod               int64
		TrustAnchors               [][]byte
		DualControl                []string // nil (the server's default) and [] differ
		Created                    int64
		Revision                   int64
		Versions                   []version
	}{Name: k.Name, Description: k.Description, Backend: k.Backend, Spec: k.Spec, Usage: k.Usage, State: k.State,
		Policy: string(k.Policy), AllowRawSecret: k.AllowRawSecret, RotationPeriod: int64(k.RotationPeriod),
		Cryptoperiod: int64(k.Cryptoperiod), TrustAnchors: nonNil(k.TrustAnchors), DualControl: k.DualControl,
		Created: k.CreatedAt.UnixNano(), Revision: k.Revision}
	for _, v := range k.Versions {
		c.Versions = append(c.Versions, version{Number: v.Number, State: v.State, BackendKey: v.BackendKeyID,
			Created: v.CreatedAt.UnixNano(), CertChain: nonNil(v.CertChain),
			DeletionAt: unixNano(v.DeletionAt.UnixNano(), v.DeletionAt.IsZero()), Origin: v.Origin, Token: v.Token})
	}
	b, _ := json.Marshal(c) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return fmt.Sprintf("revision %d sha256:%s", k.Revision, hex.EncodeToString(sum[:]))
}

func nonNil(b [][]byte) [][]byte {
	if b == nil {
		return [][]byte{}
	}
	return b
}

func unixNano(n int64, zero bool) int64 {
	if zero {
		return 0
	}
	return n
}
