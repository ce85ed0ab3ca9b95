package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/test/harness"
)

type benchSigner struct{ k *ecdsa.PrivateKey }

func (s benchSigner) Sign(_ context.Context, d []byte) ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, s.k, d)
}
func (s benchSigner) Public() crypto.PublicKey { return &s.k.PublicKey }

// BenchmarkReportOverAPI is the whole `keygate report` path: the events
// read page by page over gRPC and mTLS from keygated's SQLite log, the
// registry, the verification of the whole log, the rendering and the
// signed manifest. KEYGATE_REPORT_EVENTS sets the log's size (default
// 100,000; the events are written first, by a second writer sharing the
// store, and spread over a quarter):
//
//	KEYGATE_REPORT_EVENTS=1000000 go test -run '^$' -bench ReportOverAPI -benchtime 1x -timeout 30m ./cmd/keygate
func BenchmarkReportOverAPI(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("KEYGATE_REPORT_EVENTS")); err == nil && v > 0 {
		n = v
	}
	env := harness.Start(b, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(env.Dir, "keygate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	since := time.Now().Add(-90 * 24 * time.Hour)
	step := 90 * 24 * time.Hour / time.Duration(n)
	l, err := audit.New(audit.Config{Store: st, Signer: benchSigner{k}, ContextSecret: make([]byte, 32), Replica: "bench-writer",
		CheckpointEvery: 1 << 30, CheckpointInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	const writers = 64
	for w := range writers {
		wg.Go(func() {
			for i := w; i < n; i += writers {
				e := &audit.Event{Kind: audit.KindCall, Time: since.Add(time.Duration(i) * step), Principal: harness.ARN("acs"),
					Action: "kms:Sign", KeyName: "acs-signing", KeyVersion: 1, Result: audit.ResultOK, Decision: "Allow", Sid: "Acs"}
				if i%100 == 7 {
					e.Principal, e.Result, e.Decision, e.Sid = harness.ARN("ds"), "PermissionDenied", "ImplicitDeny", ""
				}
				if err := l.Record(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	l.Close(ctx)
	ca, cert, key := env.TLSFiles("admin")
	var out, errOut bytes.Buffer
	b.ResetTimer()
	for i := range b.N {
		args := []string{"--addr", env.Addr, "--ca", ca, "--cert", cert, "--key", key, "report", "--since", "2200h",
			"--out", filepath.Join(b.TempDir(), fmt.Sprint("pack", i))}
		if code := run(args, strings.NewReader(""), &out, &errOut); code != 0 {
			b.Fatalf("exit %d: %s", code, errOut.String())
		}
	}
	b.ReportMetric(float64(n), "events")
}
