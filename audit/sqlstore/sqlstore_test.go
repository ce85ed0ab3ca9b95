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
