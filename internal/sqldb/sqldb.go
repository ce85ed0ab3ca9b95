// Package sqldb opens keygate's SQL store: SQLite (the embedded default) or
// PostgreSQL (shared by several replicas). The key registry and the audit
// log live in the same database.
package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Driver names as they appear in config files.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is a database handle that knows its dialect.
type DB struct {
	*sql.DB
	Driver string
	// writeSlot serializes this process's SQLite writers (see LockWrites).
	writeSlot chan struct{}
}

// maxIdle keeps open, between calls, the connections a loaded server
// reads on: with database/sql's default of 2, most concurrent reads opened
// a connection (SQLite: the file and its pragmas; PostgreSQL: a backend)
// and prepared their statements again, a tenth of a 3DS challenge call's
// CPU.
const maxIdle = 16

// Open opens driver at dsn. For SQLite, dsn is a file path; WAL mode and a
// busy timeout let readers run beside the one writer.
func Open(driver, dsn string) (*DB, error) {
	switch driver {
	case SQLite:
		db, err := sql.Open("sqlite", "file:"+dsn+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_pragma=journal_size_limit(67108864)&_pragma=foreign_keys(1)&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
		if err := db.Ping(); err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
		db.SetMaxIdleConns(maxIdle)
		return &DB{DB: db, Driver: driver, writeSlot: make(chan struct{}, 1)}, nil
	case Postgres:
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		if err := db.Ping(); err != nil {
			db.Close()
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxIdleConns(maxIdle)
		return &DB{DB: db, Driver: driver}, nil
	}
	return nil, fmt.Errorf("unknown store driver %q (want %q or %q)", driver, SQLite, Postgres)
}

// Rebind turns the ? placeholders of q into PostgreSQL's $1, $2, ... when
// needed, so one query text serves both dialects.
func (db *DB) Rebind(q string) string {
	if db.Driver != Postgres {
		return q
	}
	return Numbered(q)
}

// Numbered rewrites the ? placeholders of q as $1, $2, ...; keygate's SQL
// has no literal question marks.
func Numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Blob is the column type for bytes in the dialect.
func (db *DB) Blob() string {
	if db.Driver == Postgres {
		return "BYTEA"
	}
	return "BLOB"
}

// LockWrites takes this process's SQLite write slot, waiting no longer
// than ctx allows. SQLite has one writer per database file; writers that
// meet inside SQLite wait in its busy handler, which sleeps in steps of
// milliseconds, so queueing them here first keeps write latency to the
// transactions themselves. PostgreSQL locks rows itself: no slot.
func (db *DB) LockWrites(ctx context.Context) (unlock func(), err error) {
	if db.writeSlot == nil {
		return func() {}, nil
	}
	select {
	case db.writeSlot <- struct{}{}:
		return func() { <-db.writeSlot }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WriteTx runs fn in a write transaction, committed if fn returns nil.
func (db *DB) WriteTx(ctx context.Context, fn func(*sql.Tx) error) error {
	unlock, err := db.LockWrites(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// WriteExec runs one writing statement in its own transaction.
func (db *DB) WriteExec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	unlock, err := db.LockWrites(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return db.ExecContext(ctx, query, args...)
}
