package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/test/pgtest"
	"github.com/keygate/keygate/threeds"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func sqlStore(t *testing.T, driver, dsn string) threeds.SessionStore {
	db, err := sqldb.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := threeds.NewSQLStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSQLiteStore(t *testing.T) {
	Run(t, func(t *testing.T) threeds.SessionStore {
		return sqlStore(t, sqldb.SQLite, filepath.Join(t.TempDir(), "s.db"))
	})
}

func TestPostgresStore(t *testing.T) {
	Run(t, func(t *testing.T) threeds.SessionStore { return sqlStore(t, sqldb.Postgres, pgtest.DSN(t)) })
}
