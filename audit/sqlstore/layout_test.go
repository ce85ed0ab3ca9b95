package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/test/pgtest"
)

// oldLayout makes a store in the layout before audit_strings (text
// columns and a hash column) holding n chained events, and returns them.
func oldLayout(t *testing.T, driver, dsn string, n int) []audit.Record {
	ctx := context.Background()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blob, ph := "BLOB", func(i int) string { return "?" }
	if driver == "pgx" {
		blob, ph = "BYTEA", func(i int) string { return fmt.Sprintf("$%d", i) }
	}
	for _, q := range []string{
		`CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash ` + blob + ` NOT NULL,
			base_seq BIGINT NOT NULL, base_hash ` + blob + ` NOT NULL)`,
		`CREATE TABLE audit_events (seq BIGINT PRIMARY KEY, time_ns BIGINT NOT NULL, kind TEXT NOT NULL,
			principal TEXT NOT NULL, action TEXT NOT NULL, key_name TEXT NOT NULL, result TEXT NOT NULL,
			hash ` + blob + ` NOT NULL, body ` + blob + ` NOT NULL)`,
		`CREATE TABLE audit_checkpoints (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, head ` + blob + ` NOT NULL,
			time_ns BIGINT NOT NULL, key_id TEXT NOT NULL, signature ` + blob + ` NOT NULL, counter BIGINT NOT NULL DEFAULT 0, prev ` + blob + `)`,
		`CREATE INDEX audit_events_time ON audit_events (time_ns)`,
		`CREATE INDEX audit_events_key ON audit_events (key_name, seq)`,
		`CREATE INDEX audit_events_principal ON audit_events (principal, seq)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var out []audit.Record
	var prev [32]byte
	for i := 1; i <= n; i++ {
		e := &audit.Event{Seq: uint64(i), PrevHash: prev, Time: time.Unix(1700000000, int64(i)).UTC(), Kind: audit.KindCall,
			Principal: fmt.Sprintf("arn:aws:iam::1:role/p%d", i%2), Action: "kms:Sign", KeyName: fmt.Sprintf("k%d", i%3),
			Result: "OK", CertSubject: "CN=acs", Peer: "10.0.0.1:1"}
		body := audit.AppendCanonical(nil, e)
		prev = sha256.Sum256(body)
		r := audit.Record{Seq: e.Seq, TimeNs: e.Time.UnixNano(), Kind: e.Kind, Principal: e.Principal, Action: e.Action,
			KeyName: e.KeyName, Result: e.Result, Hash: prev, Body: body}
		q := "INSERT INTO audit_events (seq, time_ns, kind, principal, action, key_name, result, hash, body) VALUES (" +
			strings.Join([]string{ph(1), ph(2), ph(3), ph(4), ph(5), ph(6), ph(7), ph(8), ph(9)}, ",") + ")"
		if _, err := db.ExecContext(ctx, q, int64(r.Seq), r.TimeNs, string(r.Kind), r.Principal, r.Action, r.KeyName, r.Result, r.Hash[:], r.Body); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	q := "INSERT INTO audit_head (id, seq, hash, base_seq, base_hash) VALUES (1, " + ph(1) + ", " + ph(2) + ", 0, " + ph(3) + ")"
	if _, err := db.ExecContext(ctx, q, int64(n), prev[:], make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	return out
}

// A store in the old layout is converted on open: every record reads back
// as it was, filters work, and new events continue the chain.
func TestOpenConvertsOldLayout(t *testing.T) {
	for _, tc := range []struct{ driver, dsn string }{
		{"sqlite", filepath.Join(t.TempDir(), "old.db")},
		{"pgx", pgtest.DSN(t)},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			ctx := context.Background()
			want := oldLayout(t, tc.driver, tc.dsn, 30)
			s, err := sqlstore.Open(ctx, tc.dsn)
			if err != nil {
				t.Fatalf("Open on an old store: %v", err)
			}
			defer s.Close()
			got, err := s.Records(ctx, audit.Query{Limit: audit.MaxLimit})
			if err != nil || len(got) != len(want) {
				t.Fatalf("Records: %d, %v", len(got), err)
			}
			for i := range want {
				w, g := want[i], got[i]
				if !bytes.Equal(g.Body, w.Body) || g.Hash != w.Hash || g.Principal != w.Principal || g.KeyName != w.KeyName ||
					g.Kind != w.Kind || g.TimeNs != w.TimeNs || g.Result != w.Result || g.Action != w.Action {
					t.Fatalf("record %d after conversion: %+v, want %+v", i+1, g, w)
				}
			}
			k1, err := s.Records(ctx, audit.Query{KeyName: "k1", Principal: "arn:aws:iam::1:role/p1"})
			if err != nil || len(k1) != 5 {
				t.Fatalf("filtered: %d records, %v; want 5", len(k1), err)
			}
			head, err := s.Append(ctx, func(h audit.Head) ([]audit.Record, error) {
				e := &audit.Event{Seq: h.Seq + 1, PrevHash: h.Hash, Time: time.Now(), Kind: audit.KindCall, KeyName: "k1"}
				body := audit.AppendCanonical(nil, e)
				return []audit.Record{{Seq: e.Seq, TimeNs: e.Time.UnixNano(), Kind: e.Kind, KeyName: "k1",
					Hash: sha256.Sum256(body), Body: body}}, nil
			})
			if err != nil || head.Seq != 31 {
				t.Fatalf("Append after conversion: %v, %v", head, err)
			}
		})
	}
}

// An old store whose hash column disagrees with a body has been altered:
// it is not converted (that would erase the evidence).
func TestOpenRefusesAlteredOldLayout(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "old.db")
	oldLayout(t, "sqlite", dsn, 5)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE audit_events SET hash = ? WHERE seq = 3", make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlstore.Open(context.Background(), dsn); err == nil || !strings.Contains(err.Error(), "event 3") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open converted an altered store: %v", err)
	}
}

// Offline, an old store is read in its own layout and left as it is:
// it verifies, and a stored hash that disagrees with its body is found.
func TestOpenReadOnlyReadsOldLayout(t *testing.T) {
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "old.db")
	want := oldLayout(t, "sqlite", dsn, 12)
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.NewVerifier(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := sqlstore.OpenReadOnly(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ro.Records(ctx, audit.Query{KeyName: "k1"})
	if err != nil || len(got) != 4 || got[0].Seq != 1 || !bytes.Equal(got[0].Body, want[0].Body) || got[0].Hash != want[0].Hash {
		t.Fatalf("old layout read offline: %d records, %v", len(got), err)
	}
	if r, err := audit.Verify(ctx, ro, v); err != nil || !r.OK() || r.Events != 12 {
		t.Fatalf("verify: %+v, %v", r, err)
	}
	ro.Close()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE audit_events SET hash = ? WHERE seq = 3", make([]byte, 32)); err != nil {
		t.Fatal(err) // the hash column is still there: nothing was converted
	}
	ro, err = sqlstore.OpenReadOnly(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if r, err := audit.Verify(ctx, ro, v); err != nil || r.First() == nil || r.First().Seq != 3 || r.First().Kind != audit.Altered {
		t.Fatalf("verify of an altered old store: %v, %v", r.First(), err)
	}
}
