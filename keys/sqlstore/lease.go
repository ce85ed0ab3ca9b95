package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// TakeLease gives the lease called name to holder until now+ttl if nobody
// else holds it (or their lease has run out), and renews it if holder
// already does. It reports whether holder has it. Replicas sharing one
// store use it so that exactly one of them does periodic work (automatic
// rotation) rather than each on its own timer.
func (s *Store) TakeLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var got bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE key_leases SET holder = ?, expires_at = ?
			WHERE name = ? AND (holder = ? OR expires_at < ?)`),
			holder, now.Add(ttl).UnixNano(), name, holder, now.UnixNano())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			got = true
			return nil
		}
		// No row yet, or somebody else's lease: the insert settles which.
		res, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO key_leases (name, holder, expires_at)
			VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`),
			name, holder, now.Add(ttl).UnixNano())
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		got = n == 1
		return nil
	})
	return got, err
}
