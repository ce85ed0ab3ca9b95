package threeds

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/keygate/keygate/internal/kgerr"
)

// The counters live in plain store columns beside the sealed state, where a
// database writer could reset acs_counter and make keygate issue a second
// CRes under an A128GCM IV it has already used. Each stored pair of counters
// therefore carries a MAC under a key derived from the session's CEK, which
// only an opener of the sealed state has: a forged or reset pair is refused.
// (A writer who kept an older row, MAC and all, can still put it back; the
// audit log records every CRes with its session, which is how such a
// rollback is found afterwards.)

// countersMACKey derives the counters' MAC key from the CEK, so that the
// key is not the CEK itself nor any key the challenge JWEs use.
func countersMACKey(cek []byte) []byte {
	m := hmac.New(sha256.New, cek)
	m.Write([]byte("keygate 3DS session counters v1"))
	return m.Sum(nil)
}

// countersMAC is HMAC-SHA-256 over the session id and both counters.
func countersMAC(s Session, c Counters) []byte {
	key := countersMACKey(s.CEK)
	defer clear(key)
	return macCounters(key, s.ID, c)
}

// macCounters is countersMAC under a key already derived, for a counter
// write that runs after the caller has zeroed its copy of the CEK.
func macCounters(key []byte, id string, c Counters) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(c.SDKCounterStoA))
	binary.BigEndian.PutUint64(b[8:], uint64(c.ACSCounterAtoS))
	m.Write(b[:])
	return m.Sum(nil)
}

// checkCountersMAC refuses counters whose MAC does not match: the store was
// altered. It is Internal, never the caller's fault.
func checkCountersMAC(s Session, c Counters, mac []byte) error {
	key := countersMACKey(s.CEK)
	defer clear(key)
	return checkMACCounters(key, s.ID, c, mac)
}

func checkMACCounters(key []byte, id string, c Counters, mac []byte) error {
	if !hmac.Equal(macCounters(key, id, c), mac) {
		return kgerr.Errorf(kgerr.Internal, "the challenge session's counters were altered in the store; refusing the session")
	}
	return nil
}
