package witness_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/witness"
	"github.com/keygate/keygate/test/s3server"
)

// checkpoints makes n signed, chained checkpoints.
func checkpoints(t *testing.T, n int) ([]audit.Checkpoint, *audit.Verifier) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	v, err := audit.NewVerifier(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Checkpoint
	var prev [32]byte
	for i := 1; i <= n; i++ {
		c := audit.Checkpoint{Counter: uint64(i), Prev: prev, Seq: uint64(10 * i), Head: [32]byte{byte(i)},
			Time: time.Date(2026, 11, 29, 12, i, 0, 0, time.UTC), KeyID: v.KeyID()}
		if c.Signature, err = ecdsa.SignASN1(rand.Reader, k, c.Digest()); err != nil {
			t.Fatal(err)
		}
		prev = c.Hash()
		out = append(out, c)
	}
	return out, v
}

func s3Client(srv *s3server.Server) *s3.Client {
	return s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		HTTPClient:  srv.HTTPClient(),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDWITNESS", "secret", "")})
}

// Over HTTP the SDK sends the checksum as a header; over HTTPS it streams
// the body aws-chunked with the checksum as a trailer: both must work.
func TestS3PublishesUnderObjectLockAndReadsTheNewest(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *s3server.Server{"http": s3server.New, "https": s3server.NewTLS} {
		t.Run(name, func(t *testing.T) { testS3Publishes(t, start(t)) })
	}
}

func testS3Publishes(t *testing.T, srv *s3server.Server) {
	srv.CreateBucket("witness", true)
	w, err := witness.NewS3Client(s3Client(srv), witness.S3Config{Bucket: "witness", Prefix: "prod/", RetainDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, ok, err := w.Latest(ctx); err != nil || ok {
		t.Fatalf("empty bucket: Latest = %v, %v", ok, err)
	}
	cps, v := checkpoints(t, 12) // past 9 → 10, where a decimal key would sort wrongly
	for _, c := range cps {
		if err := w.Publish(ctx, c); err != nil {
			t.Fatalf("Publish #%d: %v", c.Counter, err)
		}
	}
	got, ok, err := w.Latest(ctx)
	if err != nil || !ok {
		t.Fatalf("Latest: %v %v", ok, err)
	}
	if got.Counter != 12 || got.Hash() != cps[11].Hash() || !v.Check(&got) {
		t.Fatalf("Latest = #%d, want #12 exactly as signed", got.Counter)
	}
	vs := srv.Versions("witness", "prod/18446744073709551603.json") // MaxUint64 - 12
	if len(vs) != 1 || vs[0].LockMode != "COMPLIANCE" || vs[0].RetainUntil.Before(time.Now().Add(29*24*time.Hour)) {
		t.Fatalf("stored object: %+v", vs)
	}
	// A checkpoint is never overwritten.
	if err := w.Publish(ctx, cps[11]); err == nil || !strings.Contains(err.Error(), "PreconditionFailed") {
		t.Fatalf("second put of #12: %v, want PreconditionFailed", err)
	}
}

func TestS3Refusals(t *testing.T) {
	srv := s3server.New(t)
	srv.CreateBucket("plain", false)
	ctx := context.Background()
	cps, _ := checkpoints(t, 1)
	w, _ := witness.NewS3Client(s3Client(srv), witness.S3Config{Bucket: "plain"})
	if err := w.Publish(ctx, cps[0]); err == nil || !strings.Contains(err.Error(), "Object Lock Configuration") {
		t.Fatalf("bucket without Object Lock: %v", err)
	}
	w, _ = witness.NewS3Client(s3Client(srv), witness.S3Config{Bucket: "nope"})
	if _, _, err := w.Latest(ctx); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") || !strings.Contains(err.Error(), "RequestID") {
		t.Fatalf("missing bucket: %v, want NoSuchBucket with a request id", err)
	}
	srv.CreateBucket("locked", true)
	srv.SetDown(true)
	w, _ = witness.NewS3Client(s3Client(srv), witness.S3Config{Bucket: "locked"})
	if err := w.Publish(ctx, cps[0]); err == nil {
		t.Fatal("Publish succeeded while S3 was down")
	}
	if _, err := witness.NewS3Client(s3Client(srv), witness.S3Config{Bucket: "locked", Mode: "LEGAL"}); err == nil {
		t.Fatal("mode LEGAL accepted")
	}
}

func TestFileAppendsAndReadsTheNewest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "witness.jsonl")
	w := witness.NewFile(path)
	ctx := context.Background()
	if _, ok, err := w.Latest(ctx); err != nil || ok {
		t.Fatalf("no file: Latest = %v, %v", ok, err)
	}
	cps, v := checkpoints(t, 3)
	// Replicas may append out of order: the highest counter wins.
	for _, i := range []int{0, 2, 1} {
		if err := w.Publish(ctx, cps[i]); err != nil {
			t.Fatal(err)
		}
	}
	// A line torn by a crash at the end is skipped.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"counter":4,"se`)
	f.Close()
	got, ok, err := w.Latest(ctx)
	if err != nil || !ok || got.Counter != 3 || !v.Check(&got) {
		t.Fatalf("Latest = #%d %v %v, want #3", got.Counter, ok, err)
	}
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte("\n")); n != 3 {
		t.Fatalf("%d lines, want 3", n)
	}
}

func TestLogWritesEverySignedField(t *testing.T) {
	var buf bytes.Buffer
	w := witness.NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	cps, _ := checkpoints(t, 2)
	if err := w.Publish(context.Background(), cps[1]); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"msg":"audit checkpoint"`, `"counter":2`, `"seq":20`, `"prev":"`, `"head":"`, `"key_id":"`, `"signature":"`} {
		if !strings.Contains(buf.String(), f) {
			t.Errorf("log line lacks %s: %s", f, buf.String())
		}
	}
}
