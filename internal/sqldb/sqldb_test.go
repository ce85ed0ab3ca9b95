package sqldb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/internal/sqldb"
)

// pragmas is what every SQLite connection keygate opens must have,
// whichever driver the build chose.
var pragmas = []struct{ name, want string }{
	{"journal_mode", "wal"},
	{"busy_timeout", "10000"},
	{"synchronous", "2"}, // FULL: an fsync on every commit
	{"journal_size_limit", "67108864"},
	{"foreign_keys", "1"},
}

// TestSQLitePragmasOnEveryConnection holds several pooled connections at
// once, so each is a new one the driver opened, and reads every pragma on
// each: a pragma applied once per database (or only to the first
// connection) would show here.
func TestSQLitePragmasOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(sqldb.SQLite, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var conns []*sql.Conn
	for range 4 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		for _, p := range pragmas {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+p.name).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, p.name, err)
			}
			if got != p.want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, p.name, got, p.want)
			}
		}
	}
}

// TestSQLiteWriteTxIsImmediate: a write transaction takes the write lock
// when it begins (_txlock=immediate), so a second connection's BEGIN
// IMMEDIATE waits for it instead of failing at its first write.
func TestSQLiteWriteTxIsImmediate(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "k.db")
	db, err := sqldb.Open(sqldb.SQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// Another handle with no busy wait: the lock must already be held.
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.ExecContext(ctx, "INSERT INTO t VALUES (1)"); err == nil {
		t.Fatal("a second writer wrote while a write transaction was open")
	}
}

// TestSQLiteForeignKeysEnforced: the pragma is not only set but acts.
func TestSQLiteForeignKeysEnforced(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(sqldb.SQLite, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE p (id INTEGER PRIMARY KEY);
		CREATE TABLE c (p INTEGER REFERENCES p(id))`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO c VALUES (7)"); err == nil {
		t.Fatal("a row referencing a missing parent was inserted")
	}
}
