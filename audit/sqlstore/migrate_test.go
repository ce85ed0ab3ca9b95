package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/test/pgtest"
)

// A store made before checkpoints chained gets the counter and prev
// columns on open, and its old checkpoints read as counter 0.
func TestOpenAddsCheckpointChainColumns(t *testing.T) {
	for _, tc := range []struct{ driver, dsn string }{
		{"sqlite", filepath.Join(t.TempDir(), "old.db")},
		{"pgx", pgtest.DSN(t)},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			ctx := context.Background()
			db, err := sql.Open(tc.driver, tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			blob := "BLOB"
			if tc.driver == "pgx" {
				blob = "BYTEA"
			}
			for _, q := range []string{
				`CREATE TABLE audit_checkpoints (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, head ` + blob +
					` NOT NULL, time_ns BIGINT NOT NULL, key_id TEXT NOT NULL, signature ` + blob + ` NOT NULL)`,
				`INSERT INTO audit_checkpoints (id, seq, head, time_ns, key_id, signature) VALUES (1, 0, 'h', 1, 'kid', 's')`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			db.Close()
			s, err := sqlstore.Open(ctx, tc.dsn)
			if err != nil {
				t.Fatalf("Open on an old store: %v", err)
			}
			defer s.Close()
			cps, err := s.Checkpoints(ctx, 0, 10)
			if err != nil || len(cps) != 1 || cps[0].Counter != 0 {
				t.Fatalf("old checkpoint: %+v, %v", cps, err)
			}
			if c, err := s.LastCheckpoint(ctx); err != nil || c.Counter != 0 {
				t.Fatalf("LastCheckpoint: #%d, %v", c.Counter, err)
			}
		})
	}
}
