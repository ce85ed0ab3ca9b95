package storetest

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/test/pgtest"
	"github.com/keygate/keygate/threeds"
)

func openDB(t *testing.T, driver, dsn string) *sqldb.DB {
	db, err := sqldb.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The key metadata and OTP stores on SQLite and PostgreSQL.
func TestKeyMetaAndOTPStores(t *testing.T) {
	for driver, dsn := range map[string]func(t *testing.T) string{
		sqldb.SQLite:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "m.db") },
		sqldb.Postgres: func(t *testing.T) string { return pgtest.DSN(t) },
	} {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			db := openDB(t, driver, dsn(t))
			m, err := threeds.NewKeyMeta(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SetKids(ctx, "ds-ec", 1, []string{"ds-2025", "ds-2025-b"}); err != nil {
				t.Fatal(err)
			}
			if err := m.SetKids(ctx, "ds-ec", 2, []string{"ds-2026"}); err != nil {
				t.Fatal(err)
			}
			if name, v, err := m.KidOwner(ctx, "ds-2026"); err != nil || name != "ds-ec" || v != 2 {
				t.Fatalf("KidOwner = %s %d %v", name, v, err)
			}
			if err := m.SetKids(ctx, "ds-ec", 2, []string{"ds-2025"}); kgerr.KindOf(err) != kgerr.AlreadyExists {
				t.Fatalf("a kid of version 1 given to version 2: %v", err)
			}
			if err := m.SetKids(ctx, "ds-ec", 1, []string{"ds-2025"}); err != nil { // replaces: ds-2025-b is gone
				t.Fatal(err)
			}
			if _, _, err := m.KidOwner(ctx, "ds-2025-b"); kgerr.KindOf(err) != kgerr.NotFound {
				t.Fatalf("dropped kid: %v", err)
			}
			if err := m.SetKids(ctx, "ds-ec", 1, []string{"bad\nkid"}); kgerr.KindOf(err) != kgerr.InvalidArgument {
				t.Fatalf("bad kid: %v", err)
			}

			chain := [][]byte{[]byte("leaf-der"), []byte("ca-der")}
			if err := m.PutChain(ctx, "acs", 1, "visa", chain); err != nil {
				t.Fatal(err)
			}
			if err := m.PutChain(ctx, "acs", 1, "visa", chain[:1]); err != nil { // replaces
				t.Fatal(err)
			}
			if got, err := m.Chain(ctx, "acs", 1, "visa"); err != nil || len(got) != 1 || string(got[0]) != "leaf-der" {
				t.Fatalf("Chain = %q %v", got, err)
			}
			if _, err := m.Chain(ctx, "acs", 1, "mastercard"); kgerr.KindOf(err) != kgerr.NotFound {
				t.Fatalf("no chain: %v", err)
			}

			o, err := threeds.NewSQLOTPStore(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := o.Next(ctx, "HOTP:k"); err != nil || n != 0 {
				t.Fatalf("Next = %d %v", n, err)
			}
			if err := o.Advance(ctx, "HOTP:k", 0, 4); err != nil {
				t.Fatal(err)
			}
			if err := o.Advance(ctx, "HOTP:k", 0, 2); !errors.Is(err, threeds.ErrOTPRaced) {
				t.Fatalf("stale Advance: %v", err)
			}
			if err := o.Advance(ctx, "HOTP:k", 4, 7); err != nil {
				t.Fatal(err)
			}
			if n, _ := o.Next(ctx, "HOTP:k"); n != 7 {
				t.Fatalf("Next = %d", n)
			}
		})
	}
}
