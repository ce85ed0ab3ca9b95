package reconcile_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/reconcile"
	"github.com/keygate/keygate/audit/sqlstore"
)

type signer struct{ k *ecdsa.PrivateKey }

func (s signer) Sign(_ context.Context, d []byte) ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, s.k, d)
}
func (s signer) Public() crypto.PublicKey { return &s.k.PublicKey }

// The offline sources: a store and an exported archive give the same
// events, and the managed keys are those the log shows being created.
func TestOfflineAuditSources(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	l, err := audit.New(audit.Config{Store: st, Signer: signer{k}, ContextSecret: make([]byte, 32), CheckpointEvery: 1 << 30, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	const arn = "arn:aws:kms:eu-west-1:111122223333:key/abc"
	for _, e := range []*audit.Event{
		{Kind: audit.KindKeyCreated, Action: "kms:CreateKey", KeyName: "kms-key", BackendKeyID: arn, BackendRequestID: "r0", Result: "OK"},
		{Kind: audit.KindKeyCreated, Action: "kms:CreateKey", KeyName: "hsm-key", BackendKeyID: "0a0b", Result: "OK"},
		{Kind: audit.KindCall, Action: "kms:Sign", KeyName: "kms-key", BackendKeyID: arn, BackendRequestID: "r1", Result: "OK"},
	} {
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	v, _ := audit.NewVerifier(&k.PublicKey)
	var buf bytes.Buffer
	if _, err := audit.Export(ctx, st, v, time.Now().Add(time.Hour), &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "archive.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]reconcile.AuditSource{"store": reconcile.StoreAudit(st), "archive": reconcile.ArchiveAudit(path)} {
		keys, err := reconcile.KeysFromLog(ctx, src)
		if err != nil || len(keys) != 2 || !keys[0].KMS || keys[0].ARNs[0] != arn || keys[1].KMS || keys[1].Name != "hsm-key" {
			t.Errorf("%s: keys %+v %v", name, keys, err)
		}
		n := 0
		err = src(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), func(e *audit.Event) error { n++; return nil })
		if err != nil || n != 3 {
			t.Errorf("%s: %d events, %v", name, n, err)
		}
	}
}

// A record without requestID is counted as unreadable, and the run goes on.
func TestRecordWithoutRequestID(t *testing.T) {
	dir := t.TempDir()
	day := time.Now().UTC()
	sub := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "eu-west-1", day.Format("2006/01/02"))
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(`{"Records":[{"eventID":"e1","eventSource":"kms.amazonaws.com","eventName":"Sign","eventTime":"` +
		day.Format(time.RFC3339) + `","resources":[{"type":"AWS::KMS::Key","ARN":"arn:aws:kms:eu-west-1:111122223333:key/x"}]},` +
		`{"eventID":"e2","eventSource":"kms.amazonaws.com","eventName":"ListKeys","requestID":"r2","eventTime":"` + day.Format(time.RFC3339) + `"}]}`))
	zw.Close()
	name := "111122223333_CloudTrail_eu-west-1_" + day.Format("20060102T1504Z") + "_abc.json.gz"
	if err := os.WriteFile(filepath.Join(sub, name), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := reconcile.Run(context.Background(), reconcile.NewTrail(reconcile.DirObjects(dir)), reconcile.Options{
		Since: day.Add(-time.Hour), Until: day.Add(time.Hour), Audit: func(context.Context, time.Time, time.Time, func(*audit.Event) error) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[reconcile.Unreadable] != 1 || rep.Counts[reconcile.Unmanaged] != 1 || rep.Unreadable[0].Why != "record has no requestID" {
		t.Fatalf("%+v %+v", rep.Counts, rep.Unreadable)
	}
}
