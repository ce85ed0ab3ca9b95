package sqlstore_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	auditsql "github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/sqlstore"
	"github.com/keygate/keygate/test/pgtest"
)

// testdata/release-1.db was written by the release before migrations (commit
// d264515's keys/sqlstore and audit/sqlstore): two keys, one with a PENDING
// version, and an audit chain sealed by a checkpoint signed with the key in
// release-1.checkpoint.pem. Opening it migrates it and loses nothing.
func TestMigrateReleaseStore(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile("testdata/release-1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keygate.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sqldb.Open(sqldb.SQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := sqlstore.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.GetKey(ctx, "acs-signing")
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Versions) != 2 || k.Versions[0].State != keys.VersionActive || len(k.Versions[0].CertChain) != 1 ||
		k.Versions[1].State != keys.VersionPendingActivation || k.Versions[1].BackendKeyID != "ffeeddccbbaa99887766554433221100" {
		t.Fatalf("acs-signing after migration: %+v", k.Versions)
	}
	if d, err := s.GetKey(ctx, "data-key"); err != nil || d.State != keys.Disabled {
		t.Fatalf("data-key after migration: %+v, %v", d, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT MAX(version) FROM key_schema_migrations`).Scan(&n); err != nil || n != sqlstore.SchemaVersion() {
		t.Fatalf("schema version %d (%v), want %d", n, err, sqlstore.SchemaVersion())
	}

	as, err := auditsql.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer as.Close()
	p, _ := pem.Decode(mustRead(t, "testdata/release-1.checkpoint.pem"))
	pub, err := x509.ParsePKIXPublicKey(p.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.NewVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, as, v)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("the release's audit chain no longer verifies: %v", rep.Err())
	}
	if _, head, err := as.Bounds(ctx); err != nil || head.Seq != 4 {
		t.Fatalf("audit head %d (%v), want 4 events", head.Seq, err)
	}
}

// On PostgreSQL a store at migration 1 (the release's schema) is migrated by
// several replicas starting at once, exactly once.
func TestMigratePostgresConcurrently(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	db, err := sqldb.Open(sqldb.Postgres, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlstore.MigrateTo(ctx, db, 1); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO keys VALUES ('k', '', 'ECC_NIST_P256', 'SIGN_VERIFY', 'hsm', 'ENABLED', '', false, 1, 0)`,
		`INSERT INTO key_versions VALUES ('k', 1, 'ACTIVE', 'aa', 1, 'null'), ('k', 2, 'PENDING', 'bb', 2, 'null')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other, err := sqldb.Open(sqldb.Postgres, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer other.Close()
			_, errs[i] = sqlstore.New(ctx, other)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := sqlstore.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.GetKey(ctx, "k")
	if err != nil || k.Versions[1].State != keys.VersionPendingActivation {
		t.Fatalf("k after migration: %+v, %v", k, err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM key_schema_migrations`).Scan(&n); err != nil || n != sqlstore.SchemaVersion() {
		t.Fatalf("%d migrations recorded (%v), want %d", n, err, sqlstore.SchemaVersion())
	}
}

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// One lease, several replicas: one holds it, renews it, and loses it to
// another only when it has run out.
func TestLease(t *testing.T) {
	for name, dsn := range map[string]func(t *testing.T) (string, string){
		"sqlite":   func(t *testing.T) (string, string) { return sqldb.SQLite, filepath.Join(t.TempDir(), "k.db") },
		"postgres": func(t *testing.T) (string, string) { return sqldb.Postgres, pgtest.DSN(t) },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqldb.Open(dsn(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			s, err := sqlstore.New(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(1800000000, 0)
			take := func(holder string, at time.Time) bool {
				t.Helper()
				ok, err := s.TakeLease(ctx, "rotation", holder, at, time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				return ok
			}
			if !take("a", now) || take("b", now) || !take("a", now.Add(50*time.Second)) || take("b", now.Add(100*time.Second)) {
				t.Fatal("the lease was shared or not renewed")
			}
			if !take("b", now.Add(111*time.Second)) || take("a", now.Add(112*time.Second)) {
				t.Fatal("a run-out lease did not pass to the other replica")
			}
		})
	}
}
