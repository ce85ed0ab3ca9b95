package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/audit/storetest"
	"github.com/keygate/keygate/test/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func opener(dsn string) func(t *testing.T) audit.Store {
	return func(t *testing.T) audit.Store {
		s, err := sqlstore.Open(context.Background(), dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	}
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(*testing.T) audit.Store {
		return opener(filepath.Join(t.TempDir(), "audit.db"))
	})
}

func TestPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(*testing.T) audit.Store {
		return opener(pgtest.DSN(t))
	})
}

// The SQLite defaults are applied, and a parameter in the path wins.
func TestSQLitePragmas(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, tc := range []struct {
		path string
		sync int
	}{
		{filepath.Join(dir, "a.db"), 2},                          // FULL
		{filepath.Join(dir, "b.db") + "?_synchronous=NORMAL", 1}, // NORMAL
	} {
		s, err := sqlstore.OpenSQLite(ctx, tc.path)
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		var sync, busy int
		db := s.DB()
		if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
			t.Fatal(err)
		}
		db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync)
		db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy)
		if mode != "wal" || sync != tc.sync || busy != 10000 {
			t.Errorf("%s: journal_mode %s synchronous %d busy_timeout %d; want wal %d 10000", tc.path, mode, sync, tc.sync, busy)
		}
		s.Close()
	}
}

// Offline verification opens nothing it does not find and writes nothing.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := sqlstore.OpenReadOnly(ctx, missing); err == nil {
		t.Fatal("OpenReadOnly opened a file that does not exist")
	}
	for name, dsn := range map[string]string{"sqlite": filepath.Join(t.TempDir(), "a.db"), "postgres": pgtest.DSN(t)} {
		s, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		ro, err := sqlstore.OpenReadOnly(ctx, dsn)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		_, err = ro.Append(ctx, func(audit.Head) ([]audit.Record, error) { return nil, nil })
		if err == nil {
			t.Errorf("%s: Append on a read-only store succeeded", name)
		}
		if _, err := ro.DB().ExecContext(ctx, "DELETE FROM audit_events"); err == nil {
			t.Errorf("%s: the read-only connection accepted a write", name)
		}
		ro.Close()
	}
}
