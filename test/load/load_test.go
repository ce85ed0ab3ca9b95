// Package load is keygate's load benchmark: Sign (ECDSA_SHA_256) over gRPC
// and mutual TLS against a keygated process on a SoftHSM2 token, beside
// direct PKCS#11 signing on the same token in the same run, at several
// concurrencies. It reports ops/s, p50 and p99 latency, and the server's
// peak resident memory. Run it with `make bench`; the figures live in
// docs/BENCHMARKS.md.
package load

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/pkcs11"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

var concurrencies = []int{1, 16, 64}

// run drives op from c goroutines until n calls are done, and reports
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
// signing (the baseline) and Sign through keygated over gRPC and mTLS.
func BenchmarkSign(b *testing.B) {
	env := harness.Start(b, harness.Options{}) // makes the token, CA and certs
	env.CreateKey("bench-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	// The in-process server only set things up: the measured server is a
	// separate keygated process on the same token, store and certificates.
	srv := startProcess(b, env)
	ctx := context.Background()

	direct := openDirect(b, env, "bench-signing")
	digest := sha256.Sum256([]byte("acs signed content"))
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("direct-pkcs11/c=%d", c), func(b *testing.B) {
			run(b, c, func() error {
				_, err := direct.Sign(ctx, keys.ECDSASHA256, digest[:])
				return err
			})
		})
	}
	cs := pb.NewCryptoServiceClient(dial(b, env, srv.addr))
	req := &pb.SignRequest{KeyId: "bench-signing", Message: []byte("acs signed content"), SigningAlgorithm: "ECDSA_SHA_256"}
	for _, c := range concurrencies {
		b.Run(fmt.Sprintf("grpc-mtls/c=%d", c), func(b *testing.B) {
			run(b, c, func() error {
				_, err := cs.Sign(ctx, req)
				return err
			})
			b.ReportMetric(float64(srv.peakRSS())/(1<<20), "server-peak-MB")
		})
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

type process struct {
	cmd  *exec.Cmd
	addr string
}

// startProcess builds keygated and runs it on env's config, on a free port.
func startProcess(b *testing.B, env *harness.Env) *process {
	bin := filepath.Join(b.TempDir(), "keygated")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/keygated").CombinedOutput(); err != nil {
		b.Fatalf("build keygated: %v\n%s", err, out)
	}
	addr := freeAddr(b)
	cfgFile := filepath.Join(env.Dir, "bench.yaml")
	cfg := processConfig(b, env, addr)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgFile)
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	p := &process{cmd: cmd, addr: addr}
	waitReady(b, env, addr)
	return p
}

// peakRSS is the server's peak resident set (VmHWM) in bytes.
func (p *process) peakRSS() int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
