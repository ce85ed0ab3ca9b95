package sqlstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate/audit"
)

// An event is stored as a compact form of its canonical encoding, from
// which the canonical bytes are rebuilt exactly on every read: the hash
// chain, checkpoints, verification and archives only ever see canonical
// bytes. The compact form leaves out what the row already holds (time,
// kind, principal, action, key name, result), refers to repeated strings
// (replica, the connection's certificate subject, serial, URI and peer,
// backend key id, algorithm, decision, sid, context keys) by their id in
// audit_strings, and writes integers and lengths as varints:
//
//	u8 formCompact | uvarint seq | [32] prev hash
//	ref replica | ref cert subject | ref cert serial | ref cert URI | ref peer
//	uvarint key version | ref backend key id | str backend request id
//	ref algorithm | ref decision | ref sid | str error | uvarint latency (ns, as u64)
//	uvarint n | n × (ref context key | [32] value HMAC)
//	str correlation id | str detail
//
// where str is a uvarint length and the bytes, and ref is a uvarint x: an
// even x refers to string id x/2 (0 is the empty string), an odd x is
// followed by the (x-1)/2 bytes of a string too long for audit_strings
// (over maxRefLen: an index entry must stay small, and a long string
// seldom recurs). A stored body that does not start with
// formCompact is the record's body byte for byte (rows written before
// this form, and bodies that are not canonical events); formRaw escapes a
// raw body whose first byte would be read as a form byte.
const (
	formRaw     = 0x80
	formCompact = 0x81
	maxRefLen   = 256
)

var errCompact = errors.New("malformed stored event")

// appendStored appends the stored form of r to b. ref names a string's
// id, adding it to audit_strings if needed. The compact form is used only
// when the body is a canonical event agreeing with r's columns, so that
// expanding it gives back r.Body exactly.
func appendStored(b []byte, r *audit.Record, ref func(string) (uint64, error)) ([]byte, error) {
	e, err := audit.Decode(r.Body)
	if err != nil || e.Time.UnixNano() != r.TimeNs || e.Kind != r.Kind || e.Principal != r.Principal ||
		e.Action != r.Action || e.KeyName != r.KeyName || e.Result != r.Result {
		if len(r.Body) > 0 && (r.Body[0] == formRaw || r.Body[0] == formCompact) {
			b = append(b, formRaw)
		}
		return append(b, r.Body...), nil
	}
	b = append(b, formCompact)
	b = binary.AppendUvarint(b, e.Seq)
	b = append(b, e.PrevHash[:]...)
	refs := func(ss ...string) error {
		for _, s := range ss {
			if len(s) > maxRefLen {
				b = binary.AppendUvarint(b, uint64(len(s))<<1|1)
				b = append(b, s...)
				continue
			}
			id, err := ref(s)
			if err != nil {
				return err
			}
			b = binary.AppendUvarint(b, id<<1)
		}
		return nil
	}
	if err := refs(e.Replica, e.CertSubject, e.CertSerial, e.CertURI, e.Peer); err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(e.KeyVersion))
	if err := refs(e.BackendKeyID); err != nil {
		return nil, err
	}
	b = appendVarStr(b, e.BackendRequestID)
	if err := refs(e.Algorithm, e.Decision, e.Sid); err != nil {
		return nil, err
	}
	b = appendVarStr(b, e.Error)
	b = binary.AppendUvarint(b, uint64(e.Latency))
	b = binary.AppendUvarint(b, uint64(len(e.Context)))
	for i := range e.Context {
		if err := refs(e.Context[i].Key); err != nil {
			return nil, err
		}
		b = append(b, e.Context[i].ValueMAC[:]...)
	}
	b = appendVarStr(b, e.Correlation)
	return appendVarStr(b, e.Detail), nil
}

func appendVarStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// storedRefs appends the string ids a stored body refers to.
func storedRefs(stored []byte, ids []uint64) ([]uint64, error) {
	_, _, err := parseStored(stored, func(id uint64) (string, error) {
		ids = append(ids, id)
		return "", nil
	})
	return ids, err
}

// expand rebuilds the canonical body from a stored one, with the row's
// columns in cols; str resolves a string id.
func expand(stored []byte, cols *audit.Record, str func(uint64) (string, error)) ([]byte, error) {
	e, raw, err := parseStored(stored, str)
	if e == nil || err != nil {
		return raw, err
	}
	e.Time = time.Unix(0, cols.TimeNs).UTC()
	e.Kind, e.Principal, e.Action, e.KeyName, e.Result = cols.Kind, cols.Principal, cols.Action, cols.KeyName, cols.Result
	return audit.AppendCanonical(nil, e), nil
}

// parseStored reads a compact body into an event without its column
// fields, or returns a raw body as it is (and a nil event).
func parseStored(stored []byte, str func(uint64) (string, error)) (*audit.Event, []byte, error) {
	if len(stored) == 0 || stored[0] != formCompact {
		if len(stored) > 0 && stored[0] == formRaw {
			stored = stored[1:]
		}
		return nil, stored, nil
	}
	d := varDecoder{b: stored[1:], lookup: str}
	e := &audit.Event{Seq: d.uvarint()}
	copy(e.PrevHash[:], d.take(32))
	for _, p := range [...]*string{&e.Replica, &e.CertSubject, &e.CertSerial, &e.CertURI, &e.Peer} {
		*p = d.ref()
	}
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail("key version")
	}
	e.KeyVersion = uint32(v)
	e.BackendKeyID = d.ref()
	e.BackendRequestID = d.str()
	e.Algorithm, e.Decision, e.Sid = d.ref(), d.ref(), d.ref()
	e.Error = d.str()
	e.Latency = time.Duration(d.uvarint())
	n := d.uvarint()
	if n > uint64(len(stored)) {
		d.fail("context count")
	}
	if n > 0 && d.err == nil {
		e.Context = make([]audit.ContextField, n)
	}
	for i := range e.Context {
		e.Context[i].Key = d.ref()
		copy(e.Context[i].ValueMAC[:], d.take(32))
	}
	e.Correlation = d.str()
	e.Detail = d.str()
	if d.err == nil && len(d.b) > 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, nil, d.err
	}
	return e, nil, nil
}

// varDecoder reads the compact form and remembers the first error.
type varDecoder struct {
	b      []byte
	lookup func(uint64) (string, error)
	err    error
}

func (d *varDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errCompact, what)
	}
}

func (d *varDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("truncated varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *varDecoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.fail("truncated")
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *varDecoder) str() string { return string(d.take(d.uvarint())) }

func (d *varDecoder) ref() string {
	x := d.uvarint()
	if x&1 == 1 {
		return string(d.take(x >> 1))
	}
	id := x >> 1
	if d.err != nil || id == 0 {
		return ""
	}
	s, err := d.lookup(id)
	if err != nil && d.err == nil {
		d.err = err
	}
	return s
}
