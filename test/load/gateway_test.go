package load

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/pgtest"
)

// roundTime is how long one path runs at one concurrency in one round;
// KEYGATE_BENCH_SECONDS overrides it. Three rounds of nine paths at three
// concurrencies keep `make bench` to a few minutes.
func roundTime() time.Duration {
	if s := os.Getenv("KEYGATE_BENCH_SECONDS"); s != "" {
		if d, err := time.ParseDuration(s + "s"); err == nil && d > 0 {
			return d
		}
	}
	return 1500 * time.Millisecond
}

const rounds = 3

// result is one timed run of one path.
type result struct {
	ops      float64 // calls per second
	p50, p99 time.Duration
	cpuPer   time.Duration // CPU of the process doing the work, per call
}

// path is one way of doing a call; worker makes one caller's operation
// (callers may hold state, such as a challenge session), cpu reads the CPU
// time of the process that serves it.
type path struct {
	name   string
	worker func() func() error
	cpu    func() time.Duration
}

// measure runs c callers of p for d, closed loop.
func measure(c int, d time.Duration, p path) (result, error) {
	ops := make([]func() error, c)
	for i := range ops {
		ops[i] = p.worker()
	}
	lats := make([][]time.Duration, c)
	errs := make([]error, c)
	var wg sync.WaitGroup
	cpu0 := p.cpu()
	start := time.Now()
	stop := start.Add(d)
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t := time.Now()
				if !t.Before(stop) {
					return
				}
				if err := ops[i](); err != nil {
					errs[i] = err
					return
				}
				lats[i] = append(lats[i], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := p.cpu() - cpu0
	for _, err := range errs {
		if err != nil {
			return result{}, fmt.Errorf("%s c=%d: %w", p.name, c, err)
		}
	}
	all := slices.Concat(lats...)
	if len(all) == 0 {
		return result{}, fmt.Errorf("%s c=%d: no call finished", p.name, c)
	}
	slices.Sort(all)
	n := len(all)
	return result{ops: float64(n) / elapsed.Seconds(), p50: all[n/2], p99: all[min(n-1, n*99/100)],
		cpuPer: cpu / time.Duration(n)}, nil
}

// selfCPU is this process's CPU time (the direct PKCS#11 baseline signs here).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGateway is `make bench`: in one run, interleaved round by round
// and concurrency by concurrency so that load from elsewhere on the shared
// machine hits every path alike, it measures the gRPC+mTLS floor (the
// health check), direct PKCS#11 on the same SoftHSM2 token, and keygate's
// GetPublicKey, Sign, CreateAcsSession and challenge calls with the audit
// log on (and GetPublicKey and Sign with it off), then prints medians, the
// ratios of issue 12 with held / not held, and the audit log's bytes per
// event online and archived. b.N is ignored: run it with -benchtime 1x.
func BenchmarkGateway(b *testing.B) {
	env := harness.Start(b, harness.Options{})
	env.CreateKey("bench-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	acsKey(b, env)
	env.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	profileDir := os.Getenv("KEYGATE_BENCH_PROFILE")
	pprofAddr := harness.FreeAddr(b)
	on := env.StartProcess(func(c *server.Config) {
		if profileDir != "" {
			c.PprofListen = pprofAddr
		}
	})
	off := env.StartProcess(func(c *server.Config) { c.Audit.Disabled = true })
	// The same keygated with its store (registry, 3DS sessions, audit log)
	// on PostgreSQL over a unix socket, on the same token.
	pgEnv := harness.Start(b, harness.Options{Token: &env.Token,
		Store: &server.StoreConfig{Driver: "postgres", DSN: pgtest.DSN(b)}})
	pgEnv.CreateKey("bench-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	acsKey(b, pgEnv)
	pgEnv.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	pg := pgEnv.StartProcess(nil)
	pgConn := pgEnv.ProcessConn(pg, "acs")
	csPG := pb.NewCryptoServiceClient(pgConn)
	pgSessions := &sessionPool{tds: pb.NewThreeDSServiceClient(pgConn)}
	ctx := context.Background()
	direct := openDirect(b, env, "bench-signing")
	digest := sha256.Sum256([]byte("acs signed content"))
	onConn, offConn := env.ProcessConn(on, "acs"), env.ProcessConn(off, "acs")
	health := healthpb.NewHealthClient(onConn)
	csOn, csOff := pb.NewCryptoServiceClient(onConn), pb.NewCryptoServiceClient(offConn)
	tds := pb.NewThreeDSServiceClient(onConn)
	signReq := &pb.SignRequest{KeyId: "bench-signing", Message: []byte("acs signed content"), SigningAlgorithm: "ECDSA_SHA_256"}
	pubReq := &pb.GetPublicKeyRequest{KeyId: "bench-signing"}
	sessions := &sessionPool{tds: tds}

	stateless := func(op func() error) func() func() error { return func() func() error { return op } }
	paths := []path{
		{"health (floor)", stateless(func() error {
			_, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}), on.CPUTime},
		{"direct PKCS#11", stateless(func() error {
			_, err := direct.Sign(ctx, "ECDSA_SHA_256", digest[:])
			return err
		}), selfCPU},
		{"GetPublicKey", stateless(func() error { _, err := csOn.GetPublicKey(ctx, pubReq); return err }), on.CPUTime},
		{"GetPublicKey audit off", stateless(func() error { _, err := csOff.GetPublicKey(ctx, pubReq); return err }), off.CPUTime},
		{"Sign", stateless(func() error { _, err := csOn.Sign(ctx, signReq); return err }), on.CPUTime},
		{"Sign audit off", stateless(func() error { _, err := csOff.Sign(ctx, signReq); return err }), off.CPUTime},
		{"CreateAcsSession", stateless(func() error { _, err := sessions.create(ctx); return err }), on.CPUTime},
		{"DecryptChallengeRequest", sessions.creqWorker(ctx), on.CPUTime},
		{"EncryptChallengeResponse", sessions.cresWorker(ctx), on.CPUTime},
		{"GetPublicKey PostgreSQL", stateless(func() error { _, err := csPG.GetPublicKey(ctx, pubReq); return err }), pg.CPUTime},
		{"Sign PostgreSQL", stateless(func() error { _, err := csPG.Sign(ctx, signReq); return err }), pg.CPUTime},
		{"CreateAcsSession PostgreSQL", stateless(func() error { _, err := pgSessions.create(ctx); return err }), pg.CPUTime},
	}
	// KEYGATE_BENCH_ONLY=path,path: a quick look at a few paths at c=16
	// while working on them, without the report (which needs them all).
	only := os.Getenv("KEYGATE_BENCH_ONLY")
	if only != "" {
		paths = slices.DeleteFunc(paths, func(p path) bool { return !slices.Contains(strings.Split(only, ","), p.name) })
		concurrencies = []int{16}
	}
	d := roundTime()
	res := map[string][]result{} // by path and concurrency, one per round
	for round := range rounds {
		for _, c := range concurrencies {
			for _, p := range paths {
				if p.name == "DecryptChallengeRequest" || p.name == "EncryptChallengeResponse" {
					// Sessions are made before the timed run: each serves
					// 256 messages each way.
					want := 2 * c
					if prev := res[key(p.name, c)]; len(prev) > 0 {
						want += int(prev[len(prev)-1].ops*d.Seconds()*1.3)/256 + 1
					} else {
						want += int(2000*d.Seconds()) / 256
					}
					if err := sessions.fill(ctx, want); err != nil {
						b.Fatal(err)
					}
				}
				r, err := measure(c, d, p)
				if err != nil {
					b.Fatal(err)
				}
				res[key(p.name, c)] = append(res[key(p.name, c)], r)
			}
		}
		fmt.Fprintf(os.Stderr, "bench: round %d of %d done\n", round+1, rounds)
	}
	if only != "" {
		for _, p := range paths {
			m := (&report{res: res}).median(p.name, 16)
			fmt.Printf("%-26s %9.0f ops/s %8.2f p50 ms %8.2f p99 ms %6.0f CPU µs\n", p.name, m.ops, ms(m.p50), ms(m.p99), float64(m.cpuPer)/1e3)
		}
	}
	if profileDir != "" {
		for _, p := range paths {
			if p.name == "GetPublicKey" || p.name == "Sign" || p.name == "DecryptChallengeRequest" ||
				p.name == "EncryptChallengeResponse" || p.name == "CreateAcsSession" {
				if err := sessions.fill(ctx, 64); err != nil {
					b.Fatal(err)
				}
				if err := profile(pprofAddr, filepath.Join(profileDir, "keygated-"+p.name+".pprof"), p); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if only != "" {
		return
	}
	rep := &report{res: res, rssOn: on.PeakRSS(), rssOff: off.PeakRSS()}
	rep.storage(env, on)
	rep.print(os.Stdout, paths, d)
}

// profile takes a CPU profile of the audit-on keygated through its pprof
// endpoint while p runs at c=16 (KEYGATE_BENCH_PROFILE=DIR).
func profile(addr, file string, p path) error {
	done := make(chan error, 1)
	go func() {
		_, err := measure(16, 6*time.Second, p)
		done <- err
	}()
	resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=5")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	return os.WriteFile(file, raw, 0o644)
}

func key(name string, c int) string { return fmt.Sprintf("%s/%d", name, c) }
