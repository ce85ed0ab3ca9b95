package threeds

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/internal/sqldb"
)

// SQLStore is the SessionStore on keygate's SQL store (SQLite or the
// PostgreSQL that replicas share), so any replica serves any session.
type SQLStore struct {
	db *sqldb.DB
}

// NewSQLStore creates the 3DS tables if needed (sqlschema.go).
func NewSQLStore(ctx context.Context, db *sqldb.DB) (*SQLStore, error) {
	if err := createSchema(ctx, db); err != nil {
		return nil, err
	}
	return &SQLStore{db: db}, nil
}

func (s *SQLStore) Create(ctx context.Context, r SessionRecord) error {
	_, err := s.db.WriteExec(ctx, s.db.Rebind(`INSERT INTO threeds_challenge_sessions
		(id, seal_key_id, sealed, sdk_counter, acs_counter, counters_mac, expiry_ns) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.SealKeyID, r.Sealed, r.Counters.SDKCounterStoA, r.Counters.ACSCounterAtoS, nonNil(r.CountersMAC), r.Expiry.UnixNano())
	if err != nil {
		var n int
		if s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM threeds_challenge_sessions WHERE id = ?`), r.ID).Scan(&n) == nil && n > 0 {
			return kgerr.Errorf(kgerr.AlreadyExists, "session id already in use")
		}
		return unavailable(err)
	}
	return nil
}

func (s *SQLStore) Get(ctx context.Context, id string) (SessionRecord, error) {
	r := SessionRecord{ID: id}
	var exp int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT seal_key_id, sealed, sdk_counter, acs_counter, counters_mac, expiry_ns
		FROM threeds_challenge_sessions WHERE id = ?`), id).Scan(&r.SealKeyID, &r.Sealed, &r.Counters.SDKCounterStoA, &r.Counters.ACSCounterAtoS, &r.CountersMAC, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return r, kgerr.Errorf(kgerr.NotFound, "no such 3DS session (it may have expired)")
	}
	if err != nil {
		return r, unavailable(err)
	}
	r.Expiry = time.Unix(0, exp)
	return r, nil
}

func (s *SQLStore) Update(ctx context.Context, id string, old, next Counters, mac []byte) error {
	res, err := s.db.WriteExec(ctx, s.db.Rebind(`UPDATE threeds_challenge_sessions SET sdk_counter = ?, acs_counter = ?, counters_mac = ?
		WHERE id = ? AND sdk_counter = ? AND acs_counter = ?`),
		next.SDKCounterStoA, next.ACSCounterAtoS, nonNil(mac), id, old.SDKCounterStoA, old.ACSCounterAtoS)
	if err != nil {
		return unavailable(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	return ErrCountersChanged
}

func (s *SQLStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.WriteExec(ctx, s.db.Rebind(`DELETE FROM threeds_challenge_sessions WHERE expiry_ns <= ?`), now.UnixNano())
	if err != nil {
		return 0, unavailable(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// nonNil keeps a NOT NULL blob column from getting NULL for an empty MAC.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func unavailable(err error) error {
	if k := kgerr.KindOf(err); k == kgerr.DeadlineExceeded || k == kgerr.Canceled {
		return err
	}
	return kgerr.Wrap(kgerr.Unavailable, err, "3DS session store unavailable")
}
