package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/sqlstore"
	"github.com/keygate/keygate/test/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The key registry's store behaves the same on SQLite and PostgreSQL.
func TestSQLStore(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *sqldb.DB{
		"sqlite": func(t *testing.T) *sqldb.DB {
			db, err := sqldb.Open(sqldb.SQLite, filepath.Join(t.TempDir(), "k.db"))
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
		"postgres": func(t *testing.T) *sqldb.DB {
			db, err := sqldb.Open(sqldb.Postgres, pgtest.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			defer db.Close()
			storeSuite(t, db)
		})
	}
}

func storeSuite(t *testing.T, db *sqldb.DB) {
	ctx := context.Background()
	s, err := sqlstore.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlstore.New(ctx, db); err != nil {
		t.Fatalf("schema creation is not idempotent: %v", err)
	}
	now := time.Unix(1700000000, 123).UTC()
	k := &keys.Key{Name: "acs-signing", Spec: keys.ECCNISTP256, Usage: keys.SignVerify, Backend: "hsm", State: keys.Enabled,
		Policy: []byte(`{"Version":"2012-10-17"}`), CreatedAt: now,
		Versions: []keys.Version{{Number: 1, State: keys.VersionActive, BackendKeyID: "abcd", CreatedAt: now, CertChain: [][]byte{{1, 2}, {3}}}}}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	// Another key over the same backend key is refused, and nothing of it
	// is stored.
	shadow := &keys.Key{Name: "shadow", Spec: keys.ECCNISTP256, Usage: keys.SignVerify, Backend: "hsm", State: keys.Enabled, CreatedAt: now,
		Versions: []keys.Version{{Number: 1, State: keys.VersionActive, BackendKeyID: "abcd", CreatedAt: now}}}
	if err := s.CreateKey(ctx, shadow); kgerr.KindOf(err) != kgerr.AlreadyExists {
		t.Fatalf("adopting a backend key in use: %v, want AlreadyExists", err)
	}
	if _, err := s.GetKey(ctx, "shadow"); kgerr.KindOf(err) != kgerr.NotFound {
		t.Fatalf("the refused key was stored: %v", err)
	}
	if err := s.CreateKey(ctx, k); kgerr.KindOf(err) != kgerr.AlreadyExists {
		t.Fatalf("duplicate create: %v", err)
	}
	got, err := s.GetKey(ctx, "acs-signing")
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec != k.Spec || string(got.Policy) != string(k.Policy) || !got.CreatedAt.Equal(now) || len(got.Versions) != 1 ||
		len(got.Versions[0].CertChain) != 2 || got.Versions[0].CertChain[0][1] != 2 || got.Versions[0].BackendKeyID != "abcd" {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := s.GetKey(ctx, "nope"); kgerr.KindOf(err) != kgerr.NotFound {
		t.Fatalf("missing key: %v", err)
	}

	// Updates are compare-and-swap on the revision, so two replicas cannot
	// silently overwrite each other.
	a, _ := s.GetKey(ctx, "acs-signing")
	b, _ := s.GetKey(ctx, "acs-signing")
	a.State = keys.Disabled
	a.Versions = append(a.Versions, keys.Version{Number: 2, State: keys.VersionPendingActivation, BackendKeyID: "ef", CreatedAt: now})
	if err := s.UpdateKey(ctx, a); err != nil {
		t.Fatal(err)
	}
	b.Description = "lost update"
	if err := s.UpdateKey(ctx, b); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("stale update: %v", err)
	}
	got, _ = s.GetKey(ctx, "acs-signing")
	if got.State != keys.Disabled || len(got.Versions) != 2 || got.Description != "" || got.Revision != a.Revision {
		t.Fatalf("after update: %+v", got)
	}

	for _, n := range []string{"b", "c", "d"} {
		if err := s.CreateKey(ctx, &keys.Key{Name: n, Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac, Backend: "hsm", State: keys.Enabled, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListKeys(ctx, "acs-signing", 2)
	if err != nil || len(page) != 2 || page[0].Name != "b" || page[1].Name != "c" {
		t.Fatalf("ListKeys after acs-signing: %v %v", page, err)
	}
}

// A store written before backend keys were unique, holding a takeover,
// is named at startup rather than silently kept.
func TestSharedBackendKeyFromAnOlderStore(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(sqldb.SQLite, filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sqlstore.New(ctx, db); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		// As a store left before the migration that made backend keys unique.
		`DROP INDEX key_versions_backend_key_id`,
		`DELETE FROM key_schema_migrations WHERE name = 'a backend key serves one key version'`,
		`INSERT INTO keys (name, description, spec, usage, backend, state, policy, allow_raw_secret, created_at, revision)
			VALUES ('pan', '', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'hsm', 'ENABLED', '', false, 0, 0)`,
		`INSERT INTO keys (name, description, spec, usage, backend, state, policy, allow_raw_secret, created_at, revision)
			VALUES ('shadow', '', 'SYMMETRIC_DEFAULT', 'ENCRYPT_DECRYPT', 'hsm', 'ENABLED', '', false, 0, 0)`,
		`INSERT INTO key_versions (key_name, version, state, backend_key_id, created_at, cert_chain) VALUES ('pan', 1, 'ACTIVE', 'cafe', 0, '[]')`,
		`INSERT INTO key_versions (key_name, version, state, backend_key_id, created_at, cert_chain) VALUES ('shadow', 1, 'ACTIVE', 'cafe', 0, '[]')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err = sqlstore.New(ctx, db)
	if err == nil || !strings.Contains(err.Error(), `backend key "cafe" serves 2 key versions`) {
		t.Fatalf("reopening a store with a shared backend key: %v", err)
	}
}
