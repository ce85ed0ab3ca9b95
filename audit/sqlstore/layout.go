package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"

	"github.com/keygate/keygate/audit"
)

// Stores made before audit_strings kept every event's queried fields as
// text and its hash in a column. Opening one converts it in the migration
// transaction: the old table is renamed, the new one filled from it (the
// canonical bodies are kept as they are, a raw stored form), and the old
// one dropped. The hash column is checked against the bodies first: a
// store whose hashes disagree has been altered, and converting it would
// erase that evidence, so the conversion is refused.

// moveOldLayout renames an old-layout events table out of the way (with
// its indexes, whose names the new ones take) and says whether it did.
func (s *Store) moveOldLayout(ctx context.Context, tx *sql.Tx) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, s.d.hasHashCol).Scan(&n); err != nil {
		return false, fmt.Errorf("sqlstore: migrate: events layout: %w", err)
	}
	if n == 0 {
		return false, nil
	}
	if err := checkOldHashes(ctx, tx); err != nil {
		return false, err
	}
	for _, q := range []string{
		"DROP INDEX IF EXISTS audit_events_time",
		"DROP INDEX IF EXISTS audit_events_key",
		"DROP INDEX IF EXISTS audit_events_principal",
		"ALTER TABLE audit_events RENAME TO audit_events_old",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return false, fmt.Errorf("sqlstore: migrate: %s: %w", q, err)
		}
	}
	return true, nil
}

// checkOldHashes refuses to convert a table whose hash column disagrees
// with a body.
func checkOldHashes(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, "SELECT seq, hash, body FROM audit_events ORDER BY seq")
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: reading events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var hash, body []byte
		if err := rows.Scan(&seq, &hash, &body); err != nil {
			return fmt.Errorf("sqlstore: migrate: reading events: %w", err)
		}
		if sum := sha256.Sum256(body); string(sum[:]) != string(hash) {
			return fmt.Errorf("sqlstore: migrate: event %d's stored hash is not its body's: the store was altered; "+
				"run `keygate audit verify --offline` with the previous release, and keep this database as evidence", seq)
		}
	}
	return rows.Err()
}

// copyOldLayout fills the new tables from audit_events_old and drops it.
func (s *Store) copyOldLayout(ctx context.Context, tx *sql.Tx) error {
	id := func(col string) string {
		return "COALESCE((SELECT id FROM audit_strings WHERE s = o." + col + "), 0)"
	}
	for _, q := range []string{
		`INSERT INTO audit_strings (s) SELECT v FROM (SELECT kind AS v FROM audit_events_old
			UNION SELECT principal FROM audit_events_old UNION SELECT action FROM audit_events_old
			UNION SELECT key_name FROM audit_events_old UNION SELECT result FROM audit_events_old) u
			WHERE v <> '' AND v NOT IN (SELECT s FROM audit_strings) ORDER BY v`,
		`INSERT INTO audit_events (seq, time_ns, kind, principal, action, key_name, result, body)
			SELECT seq, time_ns, ` + id("kind") + `, ` + id("principal") + `, ` + id("action") + `, ` +
			id("key_name") + `, ` + id("result") + `, body FROM audit_events_old o`,
		`DROP TABLE audit_events_old`,
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlstore: migrate: converting events: %s: %w", firstLine(q), err)
		}
	}
	return nil
}

// oldRecords reads a store in the old layout, which OpenReadOnly leaves
// as it is (an auditor verifying a backup offline): text columns, and the
// stored hash, which verification compares with the body's.
func oldRecords(ctx context.Context, db querier, query string, args []any) ([]audit.Record, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query events: %w", err)
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var r audit.Record
		var seq int64
		var kind string
		var hash []byte
		if err := rows.Scan(&seq, &r.TimeNs, &kind, &r.Principal, &r.Action, &r.KeyName, &r.Result, &r.Body, &hash); err != nil {
			return nil, fmt.Errorf("sqlstore: query events: %w", err)
		}
		r.Seq, r.Kind = uint64(seq), audit.Kind(kind)
		copy(r.Hash[:], hash)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: query events: %w", err)
	}
	return out, nil
}
