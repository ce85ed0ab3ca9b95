package threeds

import (
	"context"
	"encoding/json"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// SealContextKey is the encryption-context key under which a sealed
// session is bound to its session id: a blob moved to another id does not
// open.
const SealContextKey = "keygate:3ds-session-id"

// sealedState is the sealed, immutable part of a session. The counters are
// not in it: they change on every message and live in the SessionStore,
// where they can be compared and swapped.
type sealedState struct {
	V          int    `json:"v"` // 2: with owner
	ID         string `json:"id"`
	Owner      string `json:"owner"`
	AcsTransID string `json:"acsTransID"`
	Enc        Enc    `json:"enc"`
	CEK        []byte `json:"cek"`
	Expiry     int64  `json:"exp"` // Unix nanoseconds
}

// SealSession encrypts a session's immutable state (CEK included) under a
// SYMMETRIC_DEFAULT key in a backend, with encryption context
// {SealContextKey: s.ID}. The blob can be stored anywhere; only a holder of
// key can open it.
func SealSession(ctx context.Context, key backends.Key, s Session) ([]byte, error) {
	if key.Spec() != keys.SymmetricDefault || key.Usage() != keys.EncryptDecrypt {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "the session sealing key must be SYMMETRIC_DEFAULT ENCRYPT_DECRYPT")
	}
	pt, err := json.Marshal(sealedState{V: 2, ID: s.ID, Owner: s.Owner, AcsTransID: s.AcsTransID, Enc: s.Enc, CEK: s.CEK, Expiry: s.Expiry.UnixNano()})
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, "could not encode the session")
	}
	defer clear(pt) // it holds the CEK
	return key.Encrypt(ctx, keys.SymmetricDefaultAlg, pt, map[string]string{SealContextKey: s.ID})
}

// OpenSession reverses SealSession for session id and joins the counters
// kept beside the blob. A blob that does not open under key and id is
// keys.Internal: the sealed state is keygate's own, so a failure means the
// store was altered or the wrong key was given, never a caller mistake.
// Sessions sealed by a keygated before owners were recorded (v1) are
// refused: they live minutes, and one without an owner could be driven by
// anyone.
func OpenSession(ctx context.Context, key backends.Key, id string, sealed []byte, c Counters) (Session, error) {
	pt, err := key.Decrypt(ctx, keys.SymmetricDefaultAlg, sealed, map[string]string{SealContextKey: id})
	if err != nil {
		if kgerr.KindOf(err) == kgerr.InvalidArgument {
			return Session{}, kgerr.Wrap(kgerr.Internal, err, "the stored challenge session does not open")
		}
		return Session{}, err
	}
	var st sealedState
	err = json.Unmarshal(pt, &st)
	clear(pt) // the CEK now lives only in st.CEK
	if err != nil || st.V != 2 || st.ID != id || st.Owner == "" || len(st.CEK) != 32 || !st.Enc.Valid() {
		clear(st.CEK)
		return Session{}, kgerr.Errorf(kgerr.Internal, "the stored challenge session is malformed")
	}
	return Session{
		ID:         st.ID,
		Owner:      st.Owner,
		AcsTransID: st.AcsTransID,
		Enc:        st.Enc,
		CEK:        st.CEK,
		Expiry:     time.Unix(0, st.Expiry),
		Counters:   c,
	}, nil
}
