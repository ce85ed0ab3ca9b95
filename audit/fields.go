package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
	"unicode/utf8"
)

func newMAC(secret []byte) any { return &macState{h: hmac.New(sha256.New, secret)} }

// HashContext turns an encryption context into ContextFields sorted by key:
// the keys in clear, each value as HMAC-SHA-256(secret, u32 len(key) ‖ key
// ‖ value). Binding the key into the MAC keeps equal values under different
// keys apart. The values themselves never reach the log.
func (l *Log) HashContext(encCtx map[string]string) []ContextField {
	if len(encCtx) == 0 {
		return nil
	}
	out := make([]ContextField, 0, len(encCtx))
	for k := range encCtx {
		out = append(out, ContextField{Key: k})
	}
	slices.SortFunc(out, func(a, b ContextField) int { return strings.Compare(a.Key, b.Key) })
	m := l.macs.Get().(*macState)
	var n [4]byte
	for i := range out {
		m.h.Reset()
		binary.BigEndian.PutUint32(n[:], uint32(len(out[i].Key)))
		m.h.Write(n[:])
		m.h.Write([]byte(out[i].Key))
		m.h.Write([]byte(encCtx[out[i].Key]))
		m.h.Sum(out[i].ValueMAC[:0])
	}
	l.macs.Put(m)
	return out
}

// encodedSize is the exact length of e's canonical encoding.
func encodedSize(e *Event) int {
	const fixed = 1 + 8 + 32 + 8 + 4 + 8 + 4 // version, seq, prev, time, key version, latency, n
	n := fixed + 4*18 + len(e.Kind) + len(e.Replica) + len(e.Principal) + len(e.CertSubject) +
		len(e.CertSerial) + len(e.CertURI) + len(e.Peer) + len(e.Action) + len(e.KeyName) +
		len(e.BackendKeyID) + len(e.BackendRequestID) + len(e.Algorithm) + len(e.Decision) +
		len(e.Sid) + len(e.Result) + len(e.Error) + len(e.Correlation) + len(e.Detail)
	for i := range e.Context {
		n += 4 + len(e.Context[i].Key) + 32
	}
	return n
}

// sanitize replaces invalid UTF-8 (say, from a peer's certificate) with
// U+FFFD, so every stored record decodes and exports as JSON unchanged.
// Valid strings, the usual case, are not copied.
func sanitize(e *Event) {
	for _, p := range [...]*string{&e.Replica, &e.Principal, &e.CertSubject, &e.CertSerial,
		&e.CertURI, &e.Peer, &e.Action, &e.KeyName, &e.BackendKeyID, &e.BackendRequestID,
		&e.Algorithm, &e.Decision, &e.Sid, &e.Result, &e.Error, &e.Correlation, &e.Detail} {
		if !utf8.ValidString(*p) {
			*p = strings.ToValidUTF8(*p, "\uFFFD")
		}
	}
	if !utf8.ValidString(string(e.Kind)) {
		e.Kind = Kind(strings.ToValidUTF8(string(e.Kind), "\uFFFD"))
	}
	for i := range e.Context {
		if !utf8.ValidString(e.Context[i].Key) {
			e.Context[i].Key = strings.ToValidUTF8(e.Context[i].Key, "\uFFFD")
		}
	}
}
