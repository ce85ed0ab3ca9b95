package threeds

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// DecryptCReq decrypts a CReq JWE sent by the SDK and returns its JSON and
// the session with sdkCounterStoA advanced. s is not changed.
//
// Checks, in order: the session has not expired and its counter is not used
// up (keys.FailedPrecondition); the header is {"alg":"dir"} with the
// session's enc and kid = acsTransID; for A128GCM the IV is 00×11 ‖ the
// expected sdkCounterStoA; the tag (one indistinguishable error for any tag
// or padding failure); and the CReq's sdkCounterStoA is exactly the
// expected one, so a replayed or reordered CReq is refused. A128CBC-HS256
// uses the whole CEK, A128GCM uses CEK[0:16] in this direction.
func DecryptCReq(s Session, jwe string, now time.Time) ([]byte, Session, error) {
	if err := usable(s, s.SDKCounterStoA, "sdkCounterStoA", now); err != nil {
		return nil, s, err
	}
	c, enc, kid, err := parseCReqShape(jwe)
	if err != nil {
		return nil, s, err
	}
	return openCReq(s, c, enc, kid, now)
}

// openCReq is DecryptCReq on a CReq already parsed (parseCReqShape).
func openCReq(s Session, c *compactJWE, enc Enc, kid string, now time.Time) ([]byte, Session, error) {
	const field = "CReq JWE"
	if err := usable(s, s.SDKCounterStoA, "sdkCounterStoA", now); err != nil {
		return nil, s, err
	}
	if enc != s.Enc {
		return nil, s, kgerr.Errorf(kgerr.InvalidArgument, "%s header.enc must be the session's %s", field, s.Enc)
	}
	if kid != s.AcsTransID {
		return nil, s, kgerr.Errorf(kgerr.InvalidArgument, "%s header.kid must be the session's acsTransID", field)
	}
	key := s.CEK
	if s.Enc == A128GCM {
		key = s.CEK[:16]
		if len(c.iv) != 12 || !allBytes(c.iv[:11], 0x00) {
			return nil, s, kgerr.Errorf(kgerr.InvalidArgument, "%s: the A128GCM IV must be 00×11 followed by sdkCounterStoA", field)
		}
		if int(c.iv[11]) != s.SDKCounterStoA {
			return nil, s, counterError("sdkCounterStoA in the IV", int(c.iv[11]), s.SDKCounterStoA)
		}
	} else if len(c.iv) != 16 {
		return nil, s, kgerr.Errorf(kgerr.InvalidArgument, "%s: the A128CBC-HS256 IV must be 16 bytes", field)
	}
	pt, err := openContent(s.Enc, key, c.iv, c.ciphertext, c.tag, []byte(c.rawHeader))
	if err != nil {
		return nil, s, err
	}
	m, err := objectMembers(pt, "CReq")
	if err != nil {
		return nil, s, err
	}
	if err := checkTransIDMember(m, s, "CReq"); err != nil {
		return nil, s, err
	}
	v, err := requiredString(m, "sdkCounterStoA", "CReq")
	if err != nil {
		return nil, s, err
	}
	n, ok := parseCounter(v)
	if !ok {
		return nil, s, kgerr.Errorf(kgerr.InvalidArgument, "CReq.sdkCounterStoA must be three digits, 000 to 255")
	}
	if n != s.SDKCounterStoA {
		return nil, s, counterError("CReq.sdkCounterStoA", n, s.SDKCounterStoA)
	}
	next := s
	next.SDKCounterStoA++
	return pt, next, nil
}

// EncryptCRes encrypts the ACS's CRes JSON for the SDK and returns the JWE
// and the session with acsCounterAtoS advanced. s is not changed.
//
// The CRes must be a JSON object. If it has no acsCounterAtoS, the
// session's next value is inserted as the first member (the rest of the
// bytes are kept as given); if it has one, it must be that value. For
// A128GCM the IV is FF×11 ‖ acsCounterAtoS and the key CEK[16:32]; for
// A128CBC-HS256 the IV is random and the key the whole CEK.
//
// With A128GCM a counter value must never be used twice under one CEK: the
// caller must make the updated counters durable (SessionStore.Update) before
// it releases the JWE, and discard the JWE if that fails.
func EncryptCRes(s Session, cres []byte, now time.Time) (string, Session, error) {
	if err := usable(s, s.ACSCounterAtoS, "acsCounterAtoS", now); err != nil {
		return "", s, err
	}
	if err := checkCResSize(cres); err != nil {
		return "", s, err
	}
	m, err := objectMembers(cres, "CRes")
	if err != nil {
		return "", s, err
	}
	if err := checkTransIDMember(m, s, "CRes"); err != nil {
		return "", s, err
	}
	counter := fmt.Sprintf("%03d", s.ACSCounterAtoS)
	v, present, err := stringMember(m, "acsCounterAtoS", "CRes")
	switch {
	case err != nil:
		return "", s, err
	case present && v != counter:
		return "", s, kgerr.Errorf(kgerr.InvalidArgument, "CRes.acsCounterAtoS is %q, the session's next is %q", v, counter)
	case !present:
		cres = insertMember(cres, "acsCounterAtoS", counter)
	}

	hdr := []byte(`{"alg":"dir","enc":"` + string(s.Enc) + `","kid":` + string(jsonString(s.AcsTransID)) + `}`)
	rawHeader := b64(hdr)
	key := s.CEK
	iv := make([]byte, ivSize(s.Enc))
	if s.Enc == A128GCM {
		key = s.CEK[16:]
		for i := range 11 {
			iv[i] = 0xFF
		}
		iv[11] = byte(s.ACSCounterAtoS)
	} else {
		rand.Read(iv)
	}
	ct, tag, err := sealContent(s.Enc, key, iv, cres, []byte(rawHeader))
	if err != nil {
		return "", s, err
	}
	next := s
	next.ACSCounterAtoS++
	return rawHeader + ".." + b64(iv) + "." + b64(ct) + "." + b64(tag), next, nil
}

// usable refuses an expired session, a malformed one, and a direction whose
// counter is used up.
func usable(s Session, counter int, name string, now time.Time) error {
	if !now.Before(s.Expiry) {
		return kgerr.Errorf(kgerr.FailedPrecondition, "the challenge session has expired")
	}
	if len(s.CEK) != 32 || !s.Enc.Valid() {
		return kgerr.Errorf(kgerr.Internal, "malformed challenge session")
	}
	if counter < 0 || counter > MaxCounter {
		return kgerr.Errorf(kgerr.FailedPrecondition, "the challenge session's %s has reached %d; counters never wrap", name, MaxCounter)
	}
	return nil
}

func parseCReq(jwe string) (*compactJWE, error) {
	return parseCompact(jwe, "CReq JWE", MaxCReqJWE, "a CReq of messageExtension 81,920 bytes and 16 KiB of other members, encrypted")
}

// parseCReqShape checks everything about a CReq JWE that needs no
// session: its size, its parts and a {"alg":"dir","enc","kid"} header. It
// runs before the session is unsealed, so garbage costs no backend call,
// and its result is what openCReq decrypts: the JWE is parsed once.
func parseCReqShape(jwe string) (*compactJWE, Enc, string, error) {
	c, err := parseCReq(jwe)
	if err != nil {
		return nil, "", "", err
	}
	enc, kid, err := dirHeader(c, "CReq JWE")
	if err != nil {
		return nil, "", "", err
	}
	return c, enc, kid, nil
}

// dirHeader checks a CReq's protected header for what any session needs
// and returns its enc and kid.
func dirHeader(c *compactJWE, field string) (Enc, string, error) {
	hdr, err := objectMembers(c.header, field+" header")
	if err != nil {
		return "", "", err
	}
	if err := refuseUnsupported(hdr, field+" header"); err != nil {
		return "", "", err
	}
	if alg, err := requiredString(hdr, "alg", field+" header"); err != nil {
		return "", "", err
	} else if alg != "dir" {
		return "", "", kgerr.Errorf(kgerr.InvalidArgument, "%s header.alg must be \"dir\"", field)
	}
	enc, err := requiredString(hdr, "enc", field+" header")
	if err != nil {
		return "", "", err
	}
	if !Enc(enc).Valid() {
		return "", "", kgerr.Errorf(kgerr.InvalidArgument, "%s header.enc must be A128CBC-HS256 or A128GCM", field)
	}
	kid, err := requiredString(hdr, "kid", field+" header")
	if err != nil {
		return "", "", err
	}
	if len(c.encKey) != 0 {
		return "", "", kgerr.Errorf(kgerr.InvalidArgument, "%s: the encrypted key must be empty with alg dir", field)
	}
	return Enc(enc), kid, nil
}

// checkTransIDMember refuses a message whose acsTransID names another
// session.
func checkTransIDMember(m map[string]json.RawMessage, s Session, field string) error {
	v, ok, err := stringMember(m, "acsTransID", field)
	if err != nil {
		return err
	}
	if ok && v != s.AcsTransID {
		return kgerr.Errorf(kgerr.InvalidArgument, "%s.acsTransID must be the session's acsTransID", field)
	}
	return nil
}

func counterError(what string, got, want int) error {
	if got < want {
		return kgerr.Errorf(kgerr.InvalidArgument, "%s is %03d, expected %03d: replayed message", what, got, want)
	}
	return kgerr.Errorf(kgerr.InvalidArgument, "%s is %03d, expected %03d: out of order", what, got, want)
}

// parseCounter reads a 3DS counter: exactly three decimal digits, 000-255.
func parseCounter(s string) (int, bool) {
	if len(s) != 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n <= MaxCounter
}

func allBytes(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

// insertMember adds "name":"value" as the first member of a JSON object
// (already validated), leaving every other byte as the caller wrote it.
func insertMember(obj []byte, name, value string) []byte {
	i := bytes.IndexByte(obj, '{') + 1
	member := string(jsonString(name)) + ":" + string(jsonString(value))
	if !bytes.HasPrefix(bytes.TrimLeft(obj[i:], " \t\r\n"), []byte("}")) {
		member += "," // the object has members after the new one
	}
	out := make([]byte, 0, len(obj)+len(member))
	out = append(out, obj[:i]...)
	out = append(out, member...)
	return append(out, obj[i:]...)
}
