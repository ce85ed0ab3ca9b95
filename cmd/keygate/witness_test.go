package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/audit/witness"
	"github.com/keygate/keygate/test/s3server"
)

type softSigner struct{ k *ecdsa.PrivateKey }

func (s softSigner) Sign(_ context.Context, d []byte) ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, s.k, d)
}
func (s softSigner) Public() crypto.PublicKey { return &s.k.PublicKey }

// Offline verification compares the store with the witness file and
// bucket: intact, then a rolled-back store is named as such (exit 1).
func TestAuditVerifyAgainstWitnesses(t *testing.T) {
	ctx := context.Background()
	c := &cli{t: t, dir: t.TempDir()}
	srv := s3server.New(t)
	srv.CreateBucket("wit", true)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDCLI")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "cli-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	s3w, err := witness.NewS3(ctx, witness.S3Config{Bucket: "wit", Prefix: "p/", Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(c.dir, "witness.jsonl")
	db := filepath.Join(c.dir, "audit.db")
	store, err := sqlstore.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sig := softSigner{k}
	l, err := audit.New(audit.Config{Store: store, Signer: sig, ContextSecret: make([]byte, 32), Replica: "r",
		CheckpointEvery: 1 << 30, CheckpointInterval: time.Hour, Witnesses: []audit.Witness{witness.NewFile(file), s3w}})
	if err != nil {
		t.Fatal(err)
	}
	var mid audit.Checkpoint
	for i := range 4 {
		if err := l.Record(ctx, &audit.Event{Kind: audit.KindCall, Action: "kms:Sign", Result: audit.ResultOK, KeyName: fmt.Sprint("k", i)}); err != nil {
			t.Fatal(err)
		}
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			mid = cp
		}
	}
	l.Close(ctx)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	key := c.file("audit.pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	args := []string{"audit", "verify", "--db", db, "--checkpoint-key", key, "--witness-file", file,
		"--witness-s3", "s3://wit/p/", "--witness-s3-endpoint", srv.URL, "--max-age", "1h"}
	if out := c.ok("", args...); !strings.HasPrefix(out, "audit log intact: ") {
		t.Fatalf("before the rollback: %s", out)
	}
	for _, q := range []string{"DELETE FROM audit_events WHERE seq > 2", "DELETE FROM audit_checkpoints WHERE counter > 2"} {
		if _, err := store.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.DB().Exec("UPDATE audit_head SET seq = 2, hash = ?", mid.Head[:]); err != nil {
		t.Fatal(err)
	}
	if out := c.ok("", "audit", "verify", "--db", db, "--checkpoint-key", key); !strings.HasPrefix(out, "audit log intact: ") {
		t.Fatalf("without witnesses a rollback is invisible, as the issue says: %s", out)
	}
	out := c.fails(exitInvalid, "", "", args...)
	if strings.Count(out, "rolled-back") != 2 || !strings.Contains(out, "newest checkpoint is #2") {
		t.Fatalf("after the rollback:\n%s", out)
	}
	c.fails(exitUsage, "keygate: --witness-file", "", "audit", "verify", "--witness-file", file)
}
