package server

import (
	"context"
	"database/sql"
	"time"
)

// A lease lets one replica of several sharing the store do a periodic job:
// a row per job naming its holder and until when. Taking it succeeds when
// it is free, expired, or already ours.

const leaseSchema = `CREATE TABLE IF NOT EXISTS keygate_leases (
	name     TEXT PRIMARY KEY,
	holder   TEXT NOT NULL,
	until_ns BIGINT NOT NULL
)`

// lease tries to take the named lease for holder from now for d.
func (s *Server) lease(ctx context.Context, name, holder string, now time.Time, d time.Duration) (bool, error) {
	won := false
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, leaseSchema); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO keygate_leases (name, holder, until_ns) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ns = excluded.until_ns
			WHERE keygate_leases.until_ns <= ? OR keygate_leases.holder = ?`),
			name, holder, now.Add(d).UnixNano(), now.UnixNano(), holder)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		won = n == 1
		return err
	})
	return won, err
}
