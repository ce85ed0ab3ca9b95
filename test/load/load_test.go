// Package load is keygate's load benchmark: Sign (ECDSA_SHA_256) over gRPC
// and mutual TLS against keygated processes on a SoftHSM2 token, with the
// audit log on and off, beside direct PKCS#11 signing on the same token in
// the same run, at several concurrencies. It reports ops/s, p50 and p99
// latency, and the server's peak resident memory. Run it with `make bench`;
// the figures live in docs/BENCHMARKS.md.
package load

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/pkcs11"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

var concurrencies = []int{1, 16, 64}

// run drives op from c goroutines until b.N calls are done, and reports
// ops/s, p50 and p99 in milliseconds.
func run(b *testing.B, c int, op func() error) {
	n := b.N
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t := time.Now()
				if err := op(); err != nil {
					failed.Store(err)
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(ms(lat[n/2]), "p50-ms")
	b.ReportMetric(ms(lat[min(n-1, n*99/100)]), "p99-ms")
	b.ReportMetric(0, "ns/op") // the per-op time of a concurrent run says nothing useful
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// BenchmarkSign measures, side by side on one token, direct PKCS#11
// signing (the baseline) and Sign through keygated over gRPC and mTLS,
// with the tamper-evident audit log on and off. The concurrency levels
// interleave the three so that load from elsewhere on the machine hits
// them alike.
func BenchmarkSign(b *testing.B) {
	env := harness.Start(b, harness.Options{}) // makes the token, CA, certs and key
	env.CreateKey("bench-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	// The measured servers are keygated processes on the same token, store
	// and certificates: one with the audit log, one without.
	withAudit := env.StartProcess(nil)
	noAudit := env.StartProcess(func(c *server.Config) { c.Audit.Disabled = true })
	ctx := context.Background()
	direct := openDirect(b, env, "bench-signing")
	digest := sha256.Sum256([]byte("acs signed content"))
	req := &pb.SignRequest{KeyId: "bench-signing", Message: []byte("acs signed content"), SigningAlgorithm: "ECDSA_SHA_256"}
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("c=%d/direct-pkcs11", c), func(b *testing.B) {
			run(b, c, func() error {
				_, err := direct.Sign(ctx, keys.ECDSASHA256, digest[:])
				return err
			})
		})
		for _, s := range []struct {
			name string
			p    *harness.Process
		}{{"grpc-mtls-audit", withAudit}, {"grpc-mtls-noaudit", noAudit}} {
			cs := pb.NewCryptoServiceClient(env.ProcessConn(s.p, "acs"))
			b.Run(fmt.Sprintf("c=%d/%s", c, s.name), func(b *testing.B) {
				run(b, c, func() error {
					_, err := cs.Sign(ctx, req)
					return err
				})
				b.ReportMetric(float64(s.p.PeakRSS())/(1<<20), "server-peak-MB")
			})
		}
	}
}

// openDirect opens the key in the token through the PKCS#11 backend,
// without keygated: the baseline.
func openDirect(b *testing.B, env *harness.Env, name string) backends.Key {
	md, err := env.Admin("admin").DescribeKey(context.Background(), &pb.DescribeKeyRequest{KeyId: name})
	if err != nil {
		b.Fatal(err)
	}
	be, err := pkcs11.Open(context.Background(), "direct", pkcs11.Config{Module: env.Token.Module,
		TokenLabel: env.Token.Label, PINFile: filepath.Join(env.Dir, "pin"), MaxSessions: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { be.Close() })
	k, err := be.Open(context.Background(), md.Key.Versions[0].BackendKeyId, keys.ECCNISTP256, keys.SignVerify)
	if err != nil {
		b.Fatal(err)
	}
	return k
}
