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
	*stmts
	tx *sql.Tx // set by In: every statement runs in it
}

// stmts are prepared once: a challenge message reads and advances its
// session, and parsing the SQL each time was a tenth of its CPU.
type stmts struct {
	insert, get, update, deleteExpired *sql.Stmt
}

// In is the store inside tx, a write transaction the caller owns on the
// same database (for SQLite, holding this process's write slot): its
// writes commit with whatever else tx does, or not at all.
func (s *SQLStore) In(tx *sql.Tx) *SQLStore { return &SQLStore{db: s.db, stmts: s.stmts, tx: tx} }

func (s *SQLStore) exec(ctx context.Context, st *sql.Stmt, args ...any) (sql.Result, error) {
	if s.tx != nil {
		return s.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	unlock, err := s.db.LockWrites(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return st.ExecContext(ctx, args...)
}

func (s *SQLStore) queryRow(ctx context.Context, st *sql.Stmt, args ...any) *sql.Row {
	if s.tx != nil {
		return s.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// NewSQLStore creates the 3DS tables if needed (sqlschema.go).
func NewSQLStore(ctx context.Context, db *sqldb.DB) (*SQLStore, error) {
	if err := createSchema(ctx, db); err != nil {
		return nil, err
	}
	st := &stmts{}
	for _, p := range []struct {
		to **sql.Stmt
		q  string
	}{
		{&st.insert, `INSERT INTO threeds_challenge_sessions
		(id, seal_key_id, sealed, sdk_counter, acs_counter, counters_mac, expiry_ns) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`},
		{&st.get, `SELECT seal_key_id, sealed, sdk_counter, acs_counter, counters_mac, expiry_ns
		FROM threeds_challenge_sessions WHERE id = ?`},
		{&st.update, `UPDATE threeds_challenge_sessions SET sdk_counter = ?, acs_counter = ?, counters_mac = ?
		WHERE id = ? AND sdk_counter = ? AND acs_counter = ?`},
		{&st.deleteExpired, `DELETE FROM threeds_challenge_sessions WHERE expiry_ns <= ?`},
	} {
		var err error
		if *p.to, err = db.PrepareContext(ctx, db.Rebind(p.q)); err != nil {
			return nil, fmt.Errorf("3DS session store: %w", err)
		}
	}
	return &SQLStore{db: db, stmts: st}, nil
}

// Create inserts unless the id is taken: a taken id is no SQL error, so
// it cannot abort a PostgreSQL transaction the insert shares (In).
func (s *SQLStore) Create(ctx context.Context, r SessionRecord) error {
	res, err := s.exec(ctx, s.insert, r.ID, r.SealKeyID, r.Sealed, r.Counters.SDKCounterStoA, r.Counters.ACSCounterAtoS, nonNil(r.CountersMAC), r.Expiry.UnixNano())
	if err != nil {
		return unavailable(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unavailable(err)
	} else if n == 0 {
		return kgerr.Errorf(kgerr.AlreadyExists, "session id already in use")
	}
	return nil
}

func (s *SQLStore) Get(ctx context.Context, id string) (SessionRecord, error) {
	r := SessionRecord{ID: id}
	var exp int64
	err := s.queryRow(ctx, s.get, id).Scan(&r.SealKeyID, &r.Sealed, &r.Counters.SDKCounterStoA, &r.Counters.ACSCounterAtoS, &r.CountersMAC, &exp)
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
	res, err := s.exec(ctx, s.update, next.SDKCounterStoA, next.ACSCounterAtoS, nonNil(mac), id, old.SDKCounterStoA, old.ACSCounterAtoS)
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
	res, err := s.exec(ctx, s.deleteExpired, now.UnixNano())
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
