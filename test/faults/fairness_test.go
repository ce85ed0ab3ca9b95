package faults

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// p99 of the latencies of n sequential Signs by cs.
func p99(t *testing.T, cs pb.CryptoServiceClient, key string, n int) time.Duration {
	return pacedP99(t, cs, key, n, 0)
}

// pacedP99 is p99 with a call begun at most every interval: a quiet
// principal's own pace, under its rate limit.
func pacedP99(t *testing.T, cs pb.CryptoServiceClient, key string, n int, every time.Duration) time.Duration {
	t.Helper()
	var tick <-chan time.Time
	if every > 0 {
		tk := time.NewTicker(every)
		defer tk.Stop()
		tick = tk.C
	}
	lat := make([]time.Duration, 0, n)
	for i := range n {
		if tick != nil {
			<-tick
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: key, Message: []byte(fmt.Sprint(i))})
		lat = append(lat, time.Since(start))
		cancel()
		if err != nil {
			t.Fatalf("the quiet principal's Sign: %v", err)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*99/100]
}

// One principal floods (64 callers, over its limit of 8 in flight) while
// another makes calls one at a time: the flood is shed ResourceExhausted
// and the quiet principal is always answered. Its p99 with and without
// the flood is measured and printed (docs/RELIABILITY.md), never asserted:
// the machine is shared.
func TestFairnessUnderFlood(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("fair-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	stopInProcess(t, env)
	p := env.StartProcess(func(c *server.Config) {
		c.Limits = server.LimitsConfig{MaxInFlight: 64, MaxInFlightPerPrincipal: 8, RetryAfter: 100 * time.Millisecond}
	})
	quiet := pb.NewCryptoServiceClient(env.ProcessConn(p, "ds"))
	n := scale(300, 3000)
	alone := p99(t, quiet, "fair-signing", n)
	floodP99 := func(pushback bool) (time.Duration, []string, map[codes.Code]int) {
		flood := startLoadWith(t, pb.NewCryptoServiceClient(env.ProcessConn(p, "acs")), "fair-signing", 64, 10*time.Second, pushback)
		flood.waitRefused(100) // the flood is past its limit
		loaded := p99(t, quiet, "fair-signing", n)
		flood.end()
		answered, refused := flood.snapshot()
		return loaded, answered, refused
	}
	// A flood that ignores the retry-after hint, then one that honours it
	// as the Go client does.
	loaded, answered, refused := floodP99(false)
	polite, answered2, refused2 := floodP99(true)
	answered = append(answered, answered2...)
	for c, k := range refused2 {
		refused[c] += k
	}
	for c := range refused {
		if c != codes.ResourceExhausted {
			t.Errorf("the flood got %d %s, want only ResourceExhausted", refused[c], c)
		}
	}
	t.Logf("quiet principal's p99: %s alone, %s beside a flood ignoring retry-after (%.1fx), %s beside one honouring it (%.1fx); flood: %d answered, %v refused",
		alone, loaded, float64(loaded)/float64(alone), polite, float64(polite)/float64(alone), len(answered), refused)
	record(row{fault: fmt.Sprintf("flood (quiet p99 %s/%s/%s)", alone.Round(100*time.Microsecond),
		loaded.Round(100*time.Microsecond), polite.Round(100*time.Microsecond)),
		answered: len(answered), refused: refused, lost: lost(t, env, p, "kms:Sign", answered), rssMB: p.PeakRSS() >> 20, logLines: -1})
}

// The same flood beside a per-principal rate limit (limits.rate_per_principal
// 100/s, the quiet principal calling 50 times a second): the flood's
// admitted work is bounded by its rate, not by its in-flight slots, so the
// quiet principal's p99 is compared with its own unloaded one. Measured
// and printed, never asserted.
func TestFairnessUnderFloodWithRate(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("rate-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	stopInProcess(t, env)
	p := env.StartProcess(func(c *server.Config) {
		c.Limits = server.LimitsConfig{MaxInFlight: 64, MaxInFlightPerPrincipal: 8, RetryAfter: 100 * time.Millisecond,
			RatePerPrincipal: 100, BurstPerPrincipal: 20}
	})
	quiet := pb.NewCryptoServiceClient(env.ProcessConn(p, "ds"))
	n, every := scale(300, 3000), 20*time.Millisecond
	alone := pacedP99(t, quiet, "rate-signing", n, every)
	flood := startLoad(t, pb.NewCryptoServiceClient(env.ProcessConn(p, "acs")), "rate-signing", 64, 10*time.Second)
	flood.waitRefused(100)
	loaded := pacedP99(t, quiet, "rate-signing", n, every)
	flood.end()
	answered, refused := flood.snapshot()
	for c := range refused {
		if c != codes.ResourceExhausted {
			t.Errorf("the flood got %d %s, want only ResourceExhausted", refused[c], c)
		}
	}
	t.Logf("quiet principal's p99 (50 calls/s) under rate_per_principal 100/s: %s alone, %s beside a flood ignoring retry-after (%.1fx); flood: %d answered, %v refused",
		alone, loaded, float64(loaded)/float64(alone), len(answered), refused)
	record(row{fault: fmt.Sprintf("flood, rate 100/s (p99 %s/%s)", alone.Round(100*time.Microsecond), loaded.Round(100*time.Microsecond)),
		answered: len(answered), refused: refused, lost: lost(t, env, p, "kms:Sign", answered), rssMB: p.PeakRSS() >> 20, logLines: -1})
}
