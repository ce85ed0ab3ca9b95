package threeds

import (
	"context"
	"database/sql"
	"errors"
	"sync"

	"github.com/keygate/keygate/internal/sqldb"
)

// ErrOTPRaced is what OTPStore.Advance returns when the stored next
// counter is no longer the old one: another request accepted a code.
var ErrOTPRaced = errors.New("threeds: OTP counter changed concurrently")

// OTPStore keeps, per OTP key (and mode), the next counter or time step
// that may be accepted: everything below it is used.
type OTPStore interface {
	// Next is the next acceptable counter; 0 when none was accepted yet.
	Next(ctx context.Context, id string) (uint64, error)
	// Advance sets it to next if it is still old, else ErrOTPRaced.
	Advance(ctx context.Context, id string, old, next uint64) error
}

// MemoryOTPStore is an OTPStore in process memory, for tests.
type MemoryOTPStore struct {
	mu   sync.Mutex
	next map[string]uint64
}

func (m *MemoryOTPStore) Next(_ context.Context, id string) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.next[id], nil
}

func (m *MemoryOTPStore) Advance(_ context.Context, id string, old, next uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.next[id] != old {
		return ErrOTPRaced
	}
	if m.next == nil {
		m.next = map[string]uint64{}
	}
	m.next[id] = next
	return nil
}

// SQLOTPStore is the OTPStore on keygate's SQL store, shared by replicas.
type SQLOTPStore struct{ db *sqldb.DB }

// NewSQLOTPStore creates the 3DS tables if needed (sqlschema.go).
func NewSQLOTPStore(ctx context.Context, db *sqldb.DB) (*SQLOTPStore, error) {
	if err := createSchema(ctx, db); err != nil {
		return nil, err
	}
	return &SQLOTPStore{db: db}, nil
}

func (s *SQLOTPStore) Next(ctx context.Context, id string) (uint64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT next_counter FROM threeds_otp_counters WHERE id = ?`), id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable(err)
	}
	return uint64(n), nil
}

func (s *SQLOTPStore) Advance(ctx context.Context, id string, old, next uint64) error {
	res, err := s.db.WriteExec(ctx, s.db.Rebind(`UPDATE threeds_otp_counters SET next_counter = ? WHERE id = ? AND next_counter = ?`),
		int64(next), id, int64(old))
	if err != nil {
		return unavailable(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	if old == 0 {
		res, err = s.db.WriteExec(ctx, s.db.Rebind(`INSERT INTO threeds_otp_counters (id, next_counter) VALUES (?, ?)
			ON CONFLICT (id) DO NOTHING`), id, int64(next))
		if err != nil {
			return unavailable(err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
	}
	return ErrOTPRaced
}
