package threeds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/internal/sqldb"
)

// SQLStore is the SessionStore on keygate's SQL store (SQLite or the
// PostgreSQL that replicas share), so any replica serves any session.
type SQLStore struct {
	db *sqldb.DB
}

// NewSQLStore creates the sessions table if needed.
func NewSQLStore(ctx context.Context, db *sqldb.DB) (*SQLStore, error) {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS threeds_sessions (
		id TEXT PRIMARY KEY,
		seal_key_id TEXT NOT NULL,
		sealed `+db.Blob()+` NOT NULL,
		sdk_counter INTEGER NOT NULL,
		acs_counter INTEGER NOT NULL,
		expiry_ns BIGINT NOT NULL)`)
	if err != nil {
		return nil, fmt.Errorf("3DS session store schema: %w", err)
	}
	return &SQLStore{db: db}, nil
}

func (s *SQLStore) Create(ctx context.Context, r SessionRecord) error {
	_, err := s.db.WriteExec(ctx, s.db.Rebind(`INSERT INTO threeds_sessions
		(id, seal_key_id, sealed, sdk_counter, acs_counter, expiry_ns) VALUES (?, ?, ?, ?, ?, ?)`),
		r.ID, r.SealKeyID, r.Sealed, r.Counters.SDKCounterStoA, r.Counters.ACSCounterAtoS, r.Expiry.UnixNano())
	if err != nil {
		var n int
		if s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM threeds_sessions WHERE id = ?`), r.ID).Scan(&n) == nil && n > 0 {
			return kgerr.Errorf(kgerr.AlreadyExists, "session id already in use")
		}
		return unavailable(err)
	}
	return nil
}

func (s *SQLStore) Get(ctx context.Context, id string) (SessionRecord, error) {
	r := SessionRecord{ID: id}
	var exp int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT seal_key_id, sealed, sdk_counter, acs_counter, expiry_ns
		FROM threeds_sessions WHERE id = ?`), id).Scan(&r.SealKeyID, &r.Sealed, &r.Counters.SDKCounterStoA, &r.Counters.ACSCounterAtoS, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return r, kgerr.Errorf(kgerr.NotFound, "no such 3DS session (it may have expired)")
	}
	if err != nil {
		return r, unavailable(err)
	}
	r.Expiry = time.Unix(0, exp)
	return r, nil
}

func (s *SQLStore) Update(ctx context.Context, id string, old, next Counters) error {
	res, err := s.db.WriteExec(ctx, s.db.Rebind(`UPDATE threeds_sessions SET sdk_counter = ?, acs_counter = ?
		WHERE id = ? AND sdk_counter = ? AND acs_counter = ?`),
		next.SDKCounterStoA, next.ACSCounterAtoS, id, old.SDKCounterStoA, old.ACSCounterAtoS)
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
	res, err := s.db.WriteExec(ctx, s.db.Rebind(`DELETE FROM threeds_sessions WHERE expiry_ns <= ?`), now.UnixNano())
	if err != nil {
		return 0, unavailable(err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

func unavailable(err error) error {
	if k := kgerr.KindOf(err); k == kgerr.DeadlineExceeded || k == kgerr.Canceled {
		return err
	}
	return kgerr.Wrap(kgerr.Unavailable, err, "3DS session store unavailable")
}
