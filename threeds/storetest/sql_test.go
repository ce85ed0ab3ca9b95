package storetest

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
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

// In(tx): the writes commit with the transaction or not at all, and a
// taken id is refused without aborting the transaction (PostgreSQL aborts
// a transaction on any SQL error), so the batch it shares goes on.
func TestSQLStoreInTx(t *testing.T) {
	for _, tc := range []struct{ driver, dsn string }{{sqldb.SQLite, ""}, {sqldb.Postgres, "pg"}} {
		t.Run(tc.driver, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "s.db")
			if tc.dsn != "" {
				dsn = pgtest.DSN(t)
			}
			db, err := sqldb.Open(tc.driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			ctx := context.Background()
			s, err := threeds.NewSQLStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			rec := threeds.SessionRecord{ID: "a", SealKeyID: "k", Sealed: []byte("x"), CountersMAC: []byte("m"), Expiry: time.Now().Add(time.Hour)}
			if err := s.Create(ctx, rec); err != nil {
				t.Fatal(err)
			}
			one := threeds.Counters{SDKCounterStoA: 1}
			err = db.WriteTx(ctx, func(tx *sql.Tx) error {
				in := s.In(tx)
				if err := in.Create(ctx, rec); kgerr.KindOf(err) != kgerr.AlreadyExists {
					t.Errorf("Create of a taken id in a transaction: %v, want AlreadyExists", err)
				}
				if err := in.Update(ctx, "a", threeds.Counters{}, one, []byte("m1")); err != nil {
					t.Errorf("Update after the refused Create: %v", err)
				}
				return errors.New("roll back")
			})
			if err == nil {
				t.Fatal("WriteTx did not return fn's error")
			}
			if got, err := s.Get(ctx, "a"); err != nil || got.Counters != (threeds.Counters{}) {
				t.Fatalf("after rollback: %+v %v, want counters untouched", got.Counters, err)
			}
			if err := db.WriteTx(ctx, func(tx *sql.Tx) error { return s.In(tx).Update(ctx, "a", threeds.Counters{}, one, []byte("m1")) }); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, "a"); err != nil || got.Counters != one {
				t.Fatalf("after commit: %+v %v", got.Counters, err)
			}
		})
	}
}
