// Package sqlstore keeps the audit chain in SQLite (the embedded default,
// in WAL mode) or in PostgreSQL (shared by several keygated replicas). Both
// run the same SQL but for a few dialect details, and both pass the suite
// in audit/storetest.
//
// The chain head lives in a one-row table, audit_head. Append locks that
// row for the whole transaction (SELECT ... FOR UPDATE on PostgreSQL; a
// BEGIN IMMEDIATE write lock on SQLite), so writers from several processes
// extend one chain without forking it.
package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/sqldb"
	_ "modernc.org/sqlite" // driver "sqlite"
)

// Store is an audit.Store on a database/sql database.
type Store struct {
	db *sql.DB
	d  *dialect

	// Prepared once: the statements every Append runs.
	lockHeadStmt, advanceStmt *sql.Stmt

	mu    sync.Mutex
	stmts map[int]*sql.Stmt // prepared multi-row INSERTs by row count
	ids   map[string]uint64 // committed audit_strings ids (see txStrings)

	// oldLayout: a read-only store in the layout before audit_strings.
	oldLayout bool

	// shared is the keygate database this store lives in, when it was
	// given one (New): its writers queue with the key registry's and the
	// 3DS sessions', and Close leaves it open for them.
	shared *sqldb.DB
	closed atomic.Bool // no appends after Close, even into a shared database
}

var _ audit.Store = (*Store)(nil)

// Open opens the store named by dsn: a postgres:// or postgresql:// URL is
// PostgreSQL, anything else is a SQLite file path (or file: URI). It
// creates the tables if they are missing.
func Open(ctx context.Context, dsn string) (*Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return OpenPostgres(ctx, dsn)
	}
	return OpenSQLite(ctx, dsn)
}

// New keeps the audit chain in keygate's own database, beside the key
// registry and the 3DS sessions; the caller keeps ownership of db.
func New(ctx context.Context, db *sqldb.DB) (*Store, error) {
	d := &sqliteDialect
	if db.Driver == sqldb.Postgres {
		d = &postgresDialect
	}
	s, err := open(ctx, db.DB, d, db)
	return s, err
}

// OpenSQLite opens (creating if needed) a SQLite database file in WAL mode
// with an fsync on every commit (synchronous=FULL: a recorded event
// survives a power cut, not just a crash), a busy timeout for other
// writers, and write transactions that take the write lock when they
// begin. Parameters already in path win: "audit.db?_synchronous=NORMAL"
// trades power-cut durability for about half the CPU per event.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	name, query, _ := strings.Cut(path, "?")
	params, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sqlite parameters in %q: %w", path, err)
	}
	for _, kv := range [...][2]string{{"_txlock", "immediate"}, {"_busy_timeout", "10000"},
		{"_journal_mode", "WAL"}, {"_synchronous", "FULL"}} {
		if !params.Has(kv[0]) {
			params.Set(kv[0], kv[1])
		}
	}
	db, err := sql.Open("sqlite", name+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", name, err)
	}
	return open(ctx, db, &sqliteDialect, nil)
}

// OpenPostgres connects to PostgreSQL through pgx.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	return open(ctx, db, &postgresDialect, nil)
}

func open(ctx context.Context, db *sql.DB, d *dialect, shared *sqldb.DB) (*Store, error) {
	s := &Store{db: db, d: d, stmts: map[int]*sql.Stmt{}, ids: map[string]uint64{}, shared: shared}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	var err error
	if s.lockHeadStmt, err = db.PrepareContext(ctx, d.lockHead); err == nil {
		s.advanceStmt, err = db.PrepareContext(ctx, d.rebind("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"))
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: prepare: %w", err)
	}
	return s, nil
}

// DB is the underlying database, for tools and tests that inspect it.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the prepared statements and the database.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	for _, st := range []*sql.Stmt{s.lockHeadStmt, s.advanceStmt} {
		if st != nil {
			st.Close()
		}
	}
	clear(s.stmts)
	s.mu.Unlock()
	if s.shared != nil {
		return nil // the database belongs to whoever gave it
	}
	return s.db.Close()
}

// lockWrites queues a write transaction behind this process's other
// writers of a shared SQLite database; it does nothing otherwise.
func (s *Store) lockWrites(ctx context.Context) (func(), error) {
	if s.shared == nil {
		return func() {}, nil
	}
	return s.shared.LockWrites(ctx)
}

// migrate creates the schema. On PostgreSQL an advisory lock keeps two
// replicas starting at once from racing on CREATE TABLE.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	defer tx.Rollback()
	if s.d.migrateLock != "" {
		if _, err := tx.ExecContext(ctx, s.d.migrateLock); err != nil {
			return fmt.Errorf("sqlstore: migrate: %w", err)
		}
	}
	old, err := s.moveOldLayout(ctx, tx)
	if err != nil {
		return err
	}
	for _, q := range s.d.schema {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlstore: migrate: %s: %w", firstLine(q), err)
		}
	}
	if old {
		if err := s.copyOldLayout(ctx, tx); err != nil {
			return err
		}
	}
	if err := s.migrateChain(ctx, tx); err != nil {
		return err
	}
	var zero [32]byte
	if _, err := tx.ExecContext(ctx, s.d.rebind(
		"INSERT INTO audit_head (id, seq, hash, base_seq, base_hash) VALUES (1, 0, ?, 0, ?) ON CONFLICT (id) DO NOTHING"),
		zero[:], zero[:]); err != nil {
		return fmt.Errorf("sqlstore: migrate: head row: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	return nil
}

// migrateChain adds the checkpoint chain's columns to a store made before
// checkpoints chained, and the index that keeps one checkpoint per counter.
func (s *Store) migrateChain(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, s.d.hasColumn).Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: migrate: checkpoint columns: %w", err)
	}
	stmts := []string{`CREATE UNIQUE INDEX IF NOT EXISTS audit_checkpoints_counter ON audit_checkpoints (counter) WHERE counter > 0`}
	if n == 0 {
		stmts = append(s.d.chainColumns, stmts...)
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("sqlstore: migrate: %s: %w", firstLine(q), err)
		}
	}
	return nil
}

func firstLine(q string) string {
	q, _, _ = strings.Cut(strings.TrimSpace(q), "(")
	return q
}

// insertStmt is the prepared INSERT of n event rows. Statements are kept
// for n <= maxRowsPerInsert (batches are chunked to that), so parsing and
// planning happen once per size, not once per batch. With advance (only
// where the dialect allows DML in a WITH clause) the same statement also
// moves the head, its seq and hash being the last two parameters: one
// round trip fewer per batch.
func (s *Store) insertStmt(ctx context.Context, n int, advance bool) (*sql.Stmt, error) {
	key := n
	if advance {
		key = -n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.stmts[key]; ok {
		return st, nil
	}
	var b strings.Builder
	if advance {
		b.WriteString("WITH ins AS (")
	}
	b.WriteString("INSERT INTO audit_events (seq, time_ns, kind, principal, action, key_name, result, body) VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for j := range eventCols {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(s.d.ph(i*eventCols + j + 1))
		}
		b.WriteByte(')')
	}
	if advance {
		fmt.Fprintf(&b, ") UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", s.d.ph(n*eventCols+1), s.d.ph(n*eventCols+2))
	}
	st, err := s.db.PrepareContext(ctx, b.String())
	if err != nil {
		return nil, err
	}
	s.stmts[key] = st
	return st, nil
}

const eventCols = 8

// dialect holds what differs between SQLite and PostgreSQL.
type dialect struct {
	name         string
	schema       []string
	lockHead     string // reads the head row and locks it for the transaction
	migrateLock  string
	numbered     bool     // placeholders are $1, $2...
	dmlInWith    bool     // WITH x AS (INSERT ...) UPDATE ... is one statement
	hasColumn    string   // counts audit_checkpoints' counter column (0 or 1)
	hasHashCol   string   // counts audit_events' hash column (1 in the layout before audit_strings)
	chainColumns []string // add the checkpoint chain's columns to an older store
}

func (d *dialect) ph(i int) string {
	if d.numbered {
		return "$" + strconv.Itoa(i)
	}
	return "?"
}

// rebind rewrites ? placeholders for the dialect.
func (d *dialect) rebind(q string) string {
	if !d.numbered {
		return q
	}
	return sqldb.Numbered(q)
}
