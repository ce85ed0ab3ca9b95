package threeds

import (
	"context"
	"errors"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

// Sessions runs challenge sessions for a server: it creates them, keeps
// them sealed in a SessionStore, and decrypts CReqs and encrypts CRes with
// the counters advanced by compare-and-swap, so any replica can serve any
// session and a replayed message is refused even when two replicas see it
// at once.
type Sessions struct {
	Store SessionStore
	// SealKey (SYMMETRIC_DEFAULT) seals new sessions.
	SealKey backends.Key
	// OpenKey resolves the backend key id a stored session names, for
	// sessions sealed before SealKey was rotated. Nil: only SealKey opens.
	OpenKey func(ctx context.Context, keyID string) (backends.Key, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Cache, if set, keeps opened sessions so that a challenge message
	// needs no backend Decrypt; the counters still come from Store.
	Cache *OpenCache
}

// Created is what CreateAcsSession answers.
type Created struct {
	SessionID        string
	ACSSignedContent string
	ACSEphemPubKey   []byte
	Expiry           time.Time
}

// Create opens a session (CreateSession), seals it and stores it.
func (m *Sessions) Create(ctx context.Context, signer backends.Key, chain [][]byte, req SessionRequest) (*Created, error) {
	ns, err := CreateSession(ctx, signer, chain, req, m.now())
	if err != nil {
		return nil, err
	}
	s := ns.Session
	sealed, err := SealSession(ctx, m.SealKey, s)
	if err != nil {
		return nil, err
	}
	rec := SessionRecord{ID: s.ID, SealKeyID: m.SealKey.ID(), Sealed: sealed, Counters: s.Counters, Expiry: s.Expiry}
	if err := m.Store.Create(ctx, rec); err != nil {
		return nil, err
	}
	if m.Cache != nil {
		m.Cache.put(s.ID, rec, s, m.now())
	}
	return &Created{SessionID: s.ID, ACSSignedContent: ns.ACSSignedContent, ACSEphemPubKey: ns.ACSEphemPubKey, Expiry: s.Expiry}, nil
}

// DecryptCReq decrypts a CReq for session id (see the function
// DecryptCReq) and records the advanced counter before returning it.
func (m *Sessions) DecryptCReq(ctx context.Context, id, jwe string) ([]byte, error) {
	s, err := m.load(ctx, id)
	if err != nil {
		return nil, err
	}
	pt, _, err := DecryptCReq(s, jwe, m.now())
	if err != nil {
		return nil, err
	}
	err = m.commit(ctx, id, s.Counters, func(c *Counters) *int { return &c.SDKCounterStoA })
	if errors.Is(err, ErrCountersChanged) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "CReq.sdkCounterStoA %03d was already used: replayed message", s.SDKCounterStoA)
	}
	if err != nil {
		return nil, err
	}
	return pt, nil
}

// EncryptCRes encrypts a CRes for session id (see the function
// EncryptCRes). The JWE is returned only once its counter is stored, so no
// counter (no A128GCM IV) is ever released twice.
func (m *Sessions) EncryptCRes(ctx context.Context, id string, cres []byte) (string, error) {
	s, err := m.load(ctx, id)
	if err != nil {
		return "", err
	}
	jwe, _, err := EncryptCRes(s, cres, m.now())
	if err != nil {
		return "", err
	}
	err = m.commit(ctx, id, s.Counters, func(c *Counters) *int { return &c.ACSCounterAtoS })
	if errors.Is(err, ErrCountersChanged) {
		return "", kgerr.Errorf(kgerr.FailedPrecondition, "another CRes was issued for this session at the same time; retry")
	}
	if err != nil {
		return "", err
	}
	return jwe, nil
}

// commit advances one counter (the one dir points at) from its value in
// old. If the store's counters changed meanwhile only in the other
// direction (a CRes racing a CReq on another replica), it retries; if this
// direction's counter moved, the value was used elsewhere and it returns
// ErrCountersChanged.
func (m *Sessions) commit(ctx context.Context, id string, old Counters, dir func(*Counters) *int) error {
	used := *dir(&old)
	for range 8 {
		next := old
		*dir(&next) = used + 1
		err := m.Store.Update(ctx, id, old, next)
		if !errors.Is(err, ErrCountersChanged) {
			return err
		}
		rec, err := m.Store.Get(ctx, id)
		if err != nil {
			return err
		}
		if *dir(&rec.Counters) != used {
			return ErrCountersChanged
		}
		old = rec.Counters
	}
	return kgerr.Errorf(kgerr.Unavailable, "the challenge session is too busy; retry")
}

// load fetches and opens session id.
func (m *Sessions) load(ctx context.Context, id string) (Session, error) {
	if len(id) != 22 {
		return Session{}, kgerr.Errorf(kgerr.InvalidArgument, "session id must be 22 characters")
	}
	rec, err := m.Store.Get(ctx, id)
	if err != nil {
		return Session{}, err
	}
	key := m.SealKey
	if rec.SealKeyID != key.ID() {
		if m.OpenKey == nil {
			return Session{}, kgerr.Errorf(kgerr.FailedPrecondition, "the challenge session was sealed by a key this server does not use")
		}
		if key, err = m.OpenKey(ctx, rec.SealKeyID); err != nil {
			return Session{}, err
		}
	}
	// The key is resolved even for a cached session: one whose sealing key
	// version is no longer usable must stop working here too.
	if m.Cache != nil {
		if s, ok := m.Cache.get(id, rec, m.now()); ok {
			return s, nil
		}
	}
	s, err := OpenSession(ctx, key, id, rec.Sealed, rec.Counters)
	if err == nil && m.Cache != nil {
		m.Cache.put(id, rec, s, m.now())
	}
	return s, err
}

func (m *Sessions) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}
