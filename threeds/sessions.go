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
	// MaxTTL is a session's lifetime when the request sets none, and the
	// longest a request may ask for (the server's threeds.session_ttl);
	// 0 means DefaultTTL.
	MaxTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Cache, if set, keeps opened sessions so that a challenge message
	// needs no backend Decrypt; the counters still come from Store.
	Cache *OpenCache
	// Defer, if set, takes each session write (a new session's insert, a
	// counter's advance) instead of running it on Store at once. The
	// caller then runs it in a transaction of its own (SQLStore.In) and
	// releases what the method returned only once that transaction has
	// committed, discarding it if the write or the commit fails. keygated
	// commits the write with the call's audit event: one durable commit
	// per call.
	Defer func(ctx context.Context, w Write) error
}

// Write is one change to a session in the store, for a caller that runs
// it inside a transaction of its own (Sessions.Defer). A Write that
// returns an error has changed nothing. Run it at most once: it zeroes
// the key material it holds.
type Write struct {
	// Session is the session it changes. Writes to several sessions in
	// one transaction run in the order of their sessions, so that two
	// replicas' transactions never wait for each other's rows in a cycle.
	Session string
	Run     func(ctx context.Context, st SessionStore) error
}

// errNoSession is the one answer for a session that does not exist, has
// been swept, or belongs to another principal: a caller who learned
// another's session id learns nothing more from it.
func errNoSession() error {
	return kgerr.Errorf(kgerr.NotFound, "no such 3DS challenge session (it may have expired)")
}

// Created is what CreateAcsSession answers.
type Created struct {
	SessionID        string
	ACSSignedContent string
	ACSEphemPubKey   []byte
	Expiry           time.Time
}

// Create opens a session for owner (the calling principal, the only one
// that may use it), seals it and stores it. A TTL above MaxTTL is refused.
func (m *Sessions) Create(ctx context.Context, owner string, signer backends.Key, chain [][]byte, req SessionRequest) (*Created, error) {
	if owner == "" {
		return nil, kgerr.Errorf(kgerr.Internal, "a challenge session needs an owner")
	}
	limit := m.MaxTTL
	if limit == 0 {
		limit = DefaultTTL
	}
	if req.TTL > limit {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "ttl_seconds must be at most %d (the server's threeds.session_ttl)", int64(limit/time.Second))
	}
	if req.TTL == 0 {
		req.TTL = limit
	}
	ns, err := CreateSession(ctx, signer, chain, req, m.now())
	if err != nil {
		return nil, err
	}
	s := ns.Session
	defer clear(s.CEK)
	s.Owner = owner
	sealed, err := SealSession(ctx, m.SealKey, s)
	if err != nil {
		return nil, err
	}
	rec := SessionRecord{ID: s.ID, SealKeyID: m.SealKey.ID(), Sealed: sealed, Counters: s.Counters,
		CountersMAC: countersMAC(s, s.Counters), Expiry: s.Expiry}
	if m.Cache != nil {
		// Before the insert commits, harmlessly: an entry is used only
		// while the store holds the very blob it was opened from.
		m.Cache.put(s.ID, rec, s)
	}
	err = m.write(ctx, Write{Session: s.ID, Run: func(ctx context.Context, st SessionStore) error { return st.Create(ctx, rec) }})
	if err != nil {
		return nil, err
	}
	return &Created{SessionID: s.ID, ACSSignedContent: ns.ACSSignedContent, ACSEphemPubKey: ns.ACSEphemPubKey, Expiry: s.Expiry}, nil
}

// DecryptCReq decrypts a CReq for owner's session id (see the function
// DecryptCReq) and records the advanced counter before returning it. The
// JWE's shape and header are checked before the session is unsealed, so
// garbage costs no backend call.
func (m *Sessions) DecryptCReq(ctx context.Context, owner, id, jwe string) ([]byte, error) {
	if err := CheckSessionID(id); err != nil {
		return nil, err
	}
	c, enc, kid, err := parseCReqShape(jwe)
	if err != nil {
		return nil, err
	}
	s, err := m.load(ctx, owner, id)
	if err != nil {
		return nil, err
	}
	defer clear(s.CEK)
	pt, _, err := openCReq(s, c, enc, kid, m.now())
	if err != nil {
		return nil, err
	}
	replayed := kgerr.Errorf(kgerr.InvalidArgument, "CReq.sdkCounterStoA %03d was already used: replayed message", s.SDKCounterStoA)
	if err := m.write(ctx, advance(s, func(c *Counters) *int { return &c.SDKCounterStoA }, replayed)); err != nil {
		return nil, err
	}
	return pt, nil
}

// EncryptCRes encrypts a CRes for owner's session id (see the function
// EncryptCRes). The JWE is returned only once its counter is stored, so no
// counter (no A128GCM IV) is ever released twice.
func (m *Sessions) EncryptCRes(ctx context.Context, owner, id string, cres []byte) (string, error) {
	if err := CheckSessionID(id); err != nil {
		return "", err
	}
	if err := checkCResSize(cres); err != nil {
		return "", err
	}
	s, err := m.load(ctx, owner, id)
	if err != nil {
		return "", err
	}
	defer clear(s.CEK)
	jwe, _, err := EncryptCRes(s, cres, m.now())
	if err != nil {
		return "", err
	}
	raced := kgerr.Errorf(kgerr.FailedPrecondition, "another CRes was issued for this session at the same time; retry")
	if err := m.write(ctx, advance(s, func(c *Counters) *int { return &c.ACSCounterAtoS }, raced)); err != nil {
		return "", err
	}
	return jwe, nil
}

// write runs w on Store now, or hands it to Defer.
func (m *Sessions) write(ctx context.Context, w Write) error {
	if m.Defer != nil {
		return m.Defer(ctx, w)
	}
	return w.Run(ctx, m.Store)
}

// advance is the Write that moves one counter (the one dir points at) on
// from its value in s, with a new MAC; changed is its error when that
// counter was used elsewhere first. It keeps the counters' MAC key, not
// the CEK, which the caller zeroes as soon as it returns.
func advance(s Session, dir func(*Counters) *int, changed error) Write {
	key := countersMACKey(s.CEK)
	id, old := s.ID, s.Counters
	return Write{Session: id, Run: func(ctx context.Context, st SessionStore) error {
		defer clear(key)
		err := commitCounter(ctx, st, id, key, old, dir)
		if errors.Is(err, ErrCountersChanged) {
			return changed
		}
		return err
	}}
}

// commitCounter advances one counter from its value in old. If the
// store's counters changed meanwhile only in the other direction (a CRes
// racing a CReq on another replica), it retries; if this direction's
// counter moved, the value was used elsewhere and it returns
// ErrCountersChanged.
func commitCounter(ctx context.Context, st SessionStore, id string, key []byte, old Counters, dir func(*Counters) *int) error {
	used := *dir(&old)
	for range 8 {
		next := old
		*dir(&next) = used + 1
		err := st.Update(ctx, id, old, next, macCounters(key, id, next))
		if !errors.Is(err, ErrCountersChanged) {
			return err
		}
		rec, err := st.Get(ctx, id)
		if err != nil {
			return err
		}
		if err := checkMACCounters(key, id, rec.Counters, rec.CountersMAC); err != nil {
			return err
		}
		if *dir(&rec.Counters) != used {
			return ErrCountersChanged
		}
		old = rec.Counters
	}
	return kgerr.Errorf(kgerr.Unavailable, "the challenge session is too busy; retry")
}

// load fetches and opens owner's session id and checks its counters' MAC.
// Another principal's session is answered as if it did not exist.
func (m *Sessions) load(ctx context.Context, owner, id string) (Session, error) {
	rec, err := m.Store.Get(ctx, id)
	if kgerr.KindOf(err) == kgerr.NotFound {
		return Session{}, errNoSession()
	}
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
	var s Session
	cached := false
	if m.Cache != nil {
		s, cached = m.Cache.get(id, rec, m.now())
	}
	if !cached {
		var err error
		if s, err = OpenSession(ctx, key, id, rec.Sealed, rec.Counters); err != nil {
			return Session{}, err
		}
	}
	if s.Owner != owner {
		clear(s.CEK)
		return Session{}, errNoSession()
	}
	if err := checkCountersMAC(s, rec.Counters, rec.CountersMAC); err != nil {
		clear(s.CEK)
		return Session{}, err
	}
	if left := s.Expiry.Sub(m.now()); left > m.maxTTL()+ClockSlack {
		// Created "in the future": the clock went back. Honouring the
		// stored expiry would stretch the session past its lifetime by
		// the jump, so it ends here.
		clear(s.CEK)
		return Session{}, kgerr.Errorf(kgerr.FailedPrecondition,
			"the challenge session has expired: it has %s left, more than its lifetime (the clock went back)", left.Round(time.Second))
	}
	if !cached && m.Cache != nil {
		m.Cache.put(id, rec, s)
	}
	return s, nil
}

// ClockSlack is how far replicas' clocks may disagree before a session
// that has more than its lifetime left counts as made before the clock
// went back.
const ClockSlack = time.Minute

func (m *Sessions) maxTTL() time.Duration {
	if m.MaxTTL == 0 {
		return DefaultTTL
	}
	return m.MaxTTL
}

func (m *Sessions) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}
