package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// EncodingVersion is the first byte of every canonical event encoding.
//
// Canonical encoding, version 1. All integers are big-endian; a string is
// its length as uint32 followed by its UTF-8 bytes; fields appear in this
// order and nothing else is present:
//
//	u8 version (=1) | u64 seq | [32] prev hash | i64 time (Unix ns, UTC)
//	str kind | str replica | str principal | str cert subject | str cert serial
//	str cert URI | str peer | str action | str key name | u32 key version
//	str backend key id | str backend request id | str algorithm | str decision
//	str sid | str result | str error | i64 latency (ns)
//	u32 n | n × (str context key | [32] value HMAC)   (keys strictly ascending)
//	str correlation id | str detail
//
// An event's hash is SHA-256 of its encoding. Because the encoding holds the
// previous event's hash, the hashes form a chain. A new field means a new
// version; version 1 records stay verifiable forever.
const EncodingVersion = 1

// MaxEventSize bounds one encoded event, so a caller cannot bloat the log.
const MaxEventSize = 64 << 10

var errEncoding = errors.New("malformed canonical event encoding")

// AppendCanonical appends e's canonical encoding to b. It does not sort
// e.Context: the log sorts it (see Log.HashContext); an unsorted context is
// rejected by Decode and by Log.Record.
func AppendCanonical(b []byte, e *Event) []byte {
	b = append(b, EncodingVersion)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = append(b, e.PrevHash[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixNano()))
	for _, s := range [...]string{string(e.Kind), e.Replica, e.Principal, e.CertSubject,
		e.CertSerial, e.CertURI, e.Peer, e.Action, e.KeyName} {
		b = appendStr(b, s)
	}
	b = binary.BigEndian.AppendUint32(b, e.KeyVersion)
	for _, s := range [...]string{e.BackendKeyID, e.BackendRequestID, e.Algorithm,
		e.Decision, e.Sid, e.Result, e.Error} {
		b = appendStr(b, s)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(e.Latency))
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Context)))
	for i := range e.Context {
		b = appendStr(b, e.Context[i].Key)
		b = append(b, e.Context[i].ValueMAC[:]...)
	}
	b = appendStr(b, e.Correlation)
	return appendStr(b, e.Detail)
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// HashCanonical is the event hash of an encoding.
func HashCanonical(enc []byte) [32]byte { return sha256.Sum256(enc) }

// Decode parses a canonical encoding strictly: wrong version, truncation,
// trailing bytes, invalid UTF-8 or an unsorted context are errors. The
// returned event's Hash is the hash of enc.
func Decode(enc []byte) (*Event, error) {
	d := decoder{b: enc}
	if d.u8() != EncodingVersion {
		return nil, fmt.Errorf("%w: unknown version", errEncoding)
	}
	e := &Event{Seq: d.u64()}
	d.bytes(e.PrevHash[:])
	e.Time = time.Unix(0, int64(d.u64())).UTC()
	e.Kind = Kind(d.str())
	for _, p := range [...]*string{&e.Replica, &e.Principal, &e.CertSubject, &e.CertSerial,
		&e.CertURI, &e.Peer, &e.Action, &e.KeyName} {
		*p = d.str()
	}
	e.KeyVersion = d.u32()
	for _, p := range [...]*string{&e.BackendKeyID, &e.BackendRequestID, &e.Algorithm,
		&e.Decision, &e.Sid, &e.Result, &e.Error} {
		*p = d.str()
	}
	e.Latency = time.Duration(d.u64())
	n := d.u32()
	if n > uint32(len(enc)) {
		return nil, fmt.Errorf("%w: context count %d", errEncoding, n)
	}
	if n > 0 {
		e.Context = make([]ContextField, n)
	}
	for i := range e.Context {
		e.Context[i].Key = d.str()
		d.bytes(e.Context[i].ValueMAC[:])
		if i > 0 && e.Context[i-1].Key >= e.Context[i].Key {
			d.err = fmt.Errorf("%w: context keys not strictly ascending", errEncoding)
		}
	}
	e.Correlation = d.str()
	e.Detail = d.str()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errEncoding, len(d.b))
	}
	if d.err != nil {
		return nil, d.err
	}
	e.Hash = HashCanonical(enc)
	return e, nil
}

// peekHeader reads the version, seq and previous hash of an encoding.
func peekHeader(enc []byte) (seq uint64, prev [32]byte, err error) {
	d := decoder{b: enc}
	if d.u8() != EncodingVersion {
		return 0, prev, fmt.Errorf("%w: unknown version", errEncoding)
	}
	seq = d.u64()
	d.bytes(prev[:])
	return seq, prev, d.err
}

// decoder reads fields in order and remembers the first error, so Decode
// reads like the format.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.err = fmt.Errorf("%w: truncated", errEncoding)
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8() byte {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) bytes(dst []byte) { copy(dst, d.take(len(dst))) }

func (d *decoder) str() string {
	n := d.u32()
	if d.err == nil && int64(n) > int64(len(d.b)) {
		d.err = fmt.Errorf("%w: string length %d", errEncoding, n)
		return ""
	}
	v := d.take(int(n))
	if d.err == nil && !utf8.Valid(v) {
		d.err = fmt.Errorf("%w: invalid UTF-8", errEncoding)
	}
	return string(v)
}
