package sqlstore

// The stored event is its row (time, and the ids in audit_strings of the
// fields queries filter on) and its body, the rest of the canonical
// encoding in compact form (compact.go); its hash is computed on reading.
// Stores made before this layout are converted on open (migrateLayout).
var sqliteDialect = dialect{
	name: "sqlite",
	schema: []string{
		`CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1),
			seq INTEGER NOT NULL, hash BLOB NOT NULL, base_seq INTEGER NOT NULL, base_hash BLOB NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS audit_strings (id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE)`,
		`CREATE TABLE IF NOT EXISTS audit_events (seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL,
			kind INTEGER NOT NULL, principal INTEGER NOT NULL, action INTEGER NOT NULL, key_name INTEGER NOT NULL,
			result INTEGER NOT NULL, body BLOB NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (time_ns)`,
		`CREATE INDEX IF NOT EXISTS audit_events_key ON audit_events (key_name, seq)`,
		`CREATE INDEX IF NOT EXISTS audit_events_principal ON audit_events (principal, seq)`,
		`CREATE TABLE IF NOT EXISTS audit_checkpoints (id INTEGER PRIMARY KEY AUTOINCREMENT,
			seq INTEGER NOT NULL, head BLOB NOT NULL, time_ns INTEGER NOT NULL, key_id TEXT NOT NULL,
			signature BLOB NOT NULL, counter INTEGER NOT NULL DEFAULT 0, prev BLOB)`,
		`CREATE INDEX IF NOT EXISTS audit_checkpoints_seq ON audit_checkpoints (seq)`,
	},
	// Stores made before checkpoints chained lack the two columns; SQLite
	// has no ADD COLUMN IF NOT EXISTS, so migrate asks first.
	hasColumn:  `SELECT COUNT(*) FROM pragma_table_info('audit_checkpoints') WHERE name = 'counter'`,
	hasHashCol: `SELECT COUNT(*) FROM pragma_table_info('audit_events') WHERE name = 'hash'`,
	chainColumns: []string{
		`ALTER TABLE audit_checkpoints ADD COLUMN counter INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE audit_checkpoints ADD COLUMN prev BLOB`,
	},
	// BEGIN IMMEDIATE (the _txlock DSN parameter) already holds the write lock.
	lockHead: `SELECT seq, hash, base_seq, base_hash FROM audit_head WHERE id = 1`,
}

var postgresDialect = dialect{
	name: "postgres",
	schema: []string{
		`CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1),
			seq BIGINT NOT NULL, hash BYTEA NOT NULL, base_seq BIGINT NOT NULL, base_hash BYTEA NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS audit_strings (id BIGSERIAL PRIMARY KEY, s TEXT NOT NULL UNIQUE)`,
		`CREATE TABLE IF NOT EXISTS audit_events (seq BIGINT PRIMARY KEY, time_ns BIGINT NOT NULL,
			kind BIGINT NOT NULL, principal BIGINT NOT NULL, action BIGINT NOT NULL, key_name BIGINT NOT NULL,
			result BIGINT NOT NULL, body BYTEA NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events (time_ns)`,
		`CREATE INDEX IF NOT EXISTS audit_events_key ON audit_events (key_name, seq)`,
		`CREATE INDEX IF NOT EXISTS audit_events_principal ON audit_events (principal, seq)`,
		`CREATE TABLE IF NOT EXISTS audit_checkpoints (id BIGSERIAL PRIMARY KEY,
			seq BIGINT NOT NULL, head BYTEA NOT NULL, time_ns BIGINT NOT NULL, key_id TEXT NOT NULL,
			signature BYTEA NOT NULL, counter BIGINT NOT NULL DEFAULT 0, prev BYTEA)`,
		`CREATE INDEX IF NOT EXISTS audit_checkpoints_seq ON audit_checkpoints (seq)`,
	},
	hasColumn:  `SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'audit_checkpoints' AND column_name = 'counter' AND table_schema = current_schema()`,
	hasHashCol: `SELECT COUNT(*) FROM information_schema.columns WHERE table_name = 'audit_events' AND column_name = 'hash' AND table_schema = current_schema()`,
	chainColumns: []string{
		`ALTER TABLE audit_checkpoints ADD COLUMN counter BIGINT NOT NULL DEFAULT 0`,
		`ALTER TABLE audit_checkpoints ADD COLUMN prev BYTEA`,
	},
	lockHead:    `SELECT seq, hash, base_seq, base_hash FROM audit_head WHERE id = 1 FOR UPDATE`,
	migrateLock: `SELECT pg_advisory_xact_lock(7163001)`,
	numbered:    true,
	dmlInWith:   true,
}
