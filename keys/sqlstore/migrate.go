package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keygate/keygate/internal/sqldb"
)

// A migration is one numbered change of the key store's schema. Its number
// is its place in migrations (1-based); a store records the ones it has had
// in key_schema_migrations, and a newer keygated applies the rest on start,
// in order, each in its own transaction with its record.
type migration struct {
	name string
	// stmts run on both databases; the types used (TEXT, BIGINT, BOOLEAN)
	// mean the same on SQLite and PostgreSQL.
	stmts []string
}

// migrations is the schema's history. Append only: a released entry is
// never edited or reordered, because stores out there have run it. Adding
// a column or a table is one more entry at the end.
var migrations = []migration{
	// 1 is the schema as released before migrations existed; IF NOT EXISTS
	// lets a store from that release adopt it as already applied.
	{"keys and key_versions", []string{
		`CREATE TABLE IF NOT EXISTS keys (
			name TEXT PRIMARY KEY,
			description TEXT NOT NULL,
			spec TEXT NOT NULL,
			usage TEXT NOT NULL,
			backend TEXT NOT NULL,
			state TEXT NOT NULL,
			policy TEXT NOT NULL,
			allow_raw_secret BOOLEAN NOT NULL,
			created_at BIGINT NOT NULL,
			revision BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS key_versions (
			key_name TEXT NOT NULL REFERENCES keys(name),
			version BIGINT NOT NULL,
			state TEXT NOT NULL,
			backend_key_id TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			cert_chain TEXT NOT NULL,
			PRIMARY KEY (key_name, version))`,
	}},
	{"version lifecycle: PENDING_ACTIVATION, deletion date", []string{
		`ALTER TABLE key_versions ADD COLUMN deletion_at BIGINT NOT NULL DEFAULT 0`,
		`UPDATE key_versions SET state = 'PENDING_ACTIVATION' WHERE state = 'PENDING'`,
	}},
	{"rotation period, cryptoperiod, leases", []string{
		`ALTER TABLE keys ADD COLUMN rotation_period_ns BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE keys ADD COLUMN cryptoperiod_ns BIGINT NOT NULL DEFAULT 0`,
		`CREATE TABLE key_leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at BIGINT NOT NULL)`,
	}},
	{"trust anchors for imported chains", []string{
		`ALTER TABLE keys ADD COLUMN trust_anchors TEXT NOT NULL DEFAULT 'null'`,
	}},
	// A backend key belongs to one key version: adopting a key already in
	// use would take over its uses (and relabel its ciphertexts).
	// putVersions checks it with a clear message; the index holds it
	// against a race between replicas.
	{"a backend key serves one key version", []string{
		`CREATE UNIQUE INDEX key_versions_backend_key_id ON key_versions (backend_key_id)`,
	}},
	{"dual control: approvals, per-key operations", []string{
		`ALTER TABLE keys ADD COLUMN dual_control TEXT NOT NULL DEFAULT 'null'`,
		`CREATE TABLE key_approvals (id TEXT PRIMARY KEY, key_name TEXT NOT NULL, operation TEXT NOT NULL,
			description TEXT NOT NULL, payload TEXT NOT NULL, requester TEXT NOT NULL, created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL, state TEXT NOT NULL, approver TEXT NOT NULL, decided_at BIGINT NOT NULL,
			result TEXT NOT NULL)`,
		`CREATE INDEX key_approvals_key ON key_approvals (key_name, created_at)`,
	}},
	// Every policy a key had, by the audit event that set it (its seq),
	// so the history prints with who, when and the approval.
	{"policy history", []string{
		`CREATE TABLE key_policy_history (key_name TEXT NOT NULL, seq BIGINT NOT NULL, sha256 TEXT NOT NULL,
			policy TEXT NOT NULL, PRIMARY KEY (key_name, seq))`,
	}},
	{"key material origin: EXTERNAL for imported versions", []string{
		`ALTER TABLE key_versions ADD COLUMN origin TEXT NOT NULL DEFAULT ''`,
	}},
	// CKA_LOCAL, CKA_NEVER_EXTRACTABLE and CKA_ALWAYS_SENSITIVE as JSON
	// ('' when not recorded), so describe, the inventory and the evidence
	// pack show where a PKCS#11 version's material came from.
	{"PKCS#11 origin attributes of each version", []string{
		`ALTER TABLE key_versions ADD COLUMN token_attrs TEXT NOT NULL DEFAULT ''`,
	}},
}

// pgMigrateLock keeps replicas that start at once from migrating together.
const pgMigrateLock = `SELECT pg_advisory_xact_lock(7163002)`

// migrate applies the migrations db has not had yet and returns the
// schema version it is at.
func migrate(ctx context.Context, db *sqldb.DB) (int, error) {
	return migrateTo(ctx, db, len(migrations))
}

// migrateTo applies migrations up to number n (tests stop early to make a
// store as an older release left it).
func migrateTo(ctx context.Context, db *sqldb.DB, n int) (int, error) {
	for i := 1; i <= n; i++ {
		m := migrations[i-1]
		err := db.WriteTx(ctx, func(tx *sql.Tx) error {
			if db.Driver == sqldb.Postgres {
				if _, err := tx.ExecContext(ctx, pgMigrateLock); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS key_schema_migrations (
				version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
				return err
			}
			var done int
			if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*) FROM key_schema_migrations WHERE version = ?`), i).Scan(&done); err != nil {
				return err
			}
			if done > 0 {
				return nil
			}
			for _, q := range m.stmts {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, db.Rebind(`INSERT INTO key_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
				i, m.name, time.Now().UnixNano())
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("key store schema: migration %d (%s): %w", i, m.name, err)
		}
	}
	return n, nil
}

// SchemaVersion is the number of the last migration this keygated knows.
func SchemaVersion() int { return len(migrations) }
