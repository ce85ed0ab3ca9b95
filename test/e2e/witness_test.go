package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/keygate/keygate/audit/witness"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/s3server"
)

// keygated publishes each checkpoint to its witnesses (a file, S3 with
// Object Lock, its log) and refuses to start on a store rolled back to an
// older checkpoint: issue 11's rollback, through the real server.
func TestKeygatedRefusesAStoreOlderThanItsWitness(t *testing.T) {
	env := harness.Start(t, harness.Options{}) // the token, CA and config to start from
	s3 := s3server.New(t)
	s3.CreateBucket("keygate-witness", true)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDWITNESS")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "witness-secret")
	cfg := *env.Config
	dbPath := filepath.Join(t.TempDir(), "keygate.db")
	cfg.Store = server.StoreConfig{Driver: "sqlite", DSN: dbPath}
	cfg.Audit.Witness = server.WitnessConfig{File: filepath.Join(t.TempDir(), "witness.jsonl"), Log: true,
		S3: &witness.S3Config{Bucket: "keygate-witness", Prefix: "prod/", Region: "eu-west-1", Endpoint: s3.URL, PathStyle: true}}
	ctx := context.Background()
	var logs bytes.Buffer
	// The first start signs a checkpoint (the checkpoint key's creation is
	// the first event), and each clean stop another: 25 of them.
	for i := 1; i <= 24; i++ {
		srv, err := server.New(ctx, &cfg, slog.New(slog.NewJSONHandler(&logs, nil)), server.Options{})
		if err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		if err := srv.Close(); err != nil {
			t.Fatalf("stop %d: %v", i, err)
		}
	}
	if n := strings.Count(logs.String(), `"msg":"audit checkpoint"`); n != 25 {
		t.Fatalf("%d checkpoint lines in keygated's log, want 25", n)
	}

	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seq int64
	var head []byte
	if err := db.QueryRow("SELECT seq, head FROM audit_checkpoints WHERE counter = 10").Scan(&seq, &head); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM audit_events WHERE seq > ?", seq); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("DELETE FROM audit_checkpoints WHERE counter > 10"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE audit_head SET seq = ?, hash = ?", seq, head); err != nil {
		t.Fatal(err)
	}

	for _, only := range []string{"file", "s3"} {
		c := cfg
		c.Audit.Witness = server.WitnessConfig{}
		if only == "file" {
			c.Audit.Witness.File = cfg.Audit.Witness.File
		} else {
			c.Audit.Witness.S3 = cfg.Audit.Witness.S3
		}
		srv, err := server.New(ctx, &c, slog.New(slog.DiscardHandler), server.Options{})
		if err == nil {
			srv.Close()
			t.Fatalf("keygated started on a rolled-back store with only the %s witness", only)
		}
		if !strings.Contains(err.Error(), "refusing to start") || !strings.Contains(err.Error(), "newest checkpoint is #10") ||
			!strings.Contains(err.Error(), "holds #25") {
			t.Fatalf("with the %s witness: %v", only, err)
		}
	}
}
