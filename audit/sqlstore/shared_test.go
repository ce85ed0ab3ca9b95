package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/audit/storetest"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/test/pgtest"
)

// sharedOpener opens the store in a keygate database handle, as keygated
// does (sqlstore.New), one handle per opened store.
func sharedOpener(driver, dsn string) func(t *testing.T) audit.Store {
	return func(t *testing.T) audit.Store {
		db, err := sqldb.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := sqlstore.New(context.Background(), db)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	}
}

func TestSharedSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(*testing.T) audit.Store {
		return sharedOpener(sqldb.SQLite, filepath.Join(t.TempDir(), "keygate.db"))
	})
}

func TestSharedPostgres(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(*testing.T) audit.Store {
		return sharedOpener(sqldb.Postgres, pgtest.DSN(t))
	})
}
