package load

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/kmsserver"
)

// kmsQuota is the Sign quota test/kmsserver enforces in BenchmarkKMSQuota,
// and kmsBudget keygated's budget under it.
const (
	kmsQuota  = 400
	kmsBudget = 300
)

// BenchmarkKMSQuota drives Sign through keygated's KMS backend against
// test/kmsserver with a Sign quota, side by side with and without a
// request budget in keygated, and prints what callers saw: with the
// budget keygated refuses the excess itself (ResourceExhausted with a
// retry-after, at once) and KMS throttles nothing; without it KMS
// throttles, the SDK retries, and the throttling reaches the callers late.
// Run it with -benchtime 1x (make bench does).
func BenchmarkKMSQuota(b *testing.B) {
	srv := kmsserver.New(b)
	const role = "arn:aws:iam::111122223333:role/keygated"
	srv.SetPrincipal(kmsserver.TestAccessKeyID, role)
	b.Setenv("AWS_ACCESS_KEY_ID", kmsserver.TestAccessKeyID)
	b.Setenv("AWS_SECRET_ACCESS_KEY", kmsserver.TestSecretAccessKey)
	b.Setenv("AWS_REGION", srv.Region)
	backend := func(extra string) string {
		return fmt.Sprintf("\n  - name: kms\n    type: kms\n    config: {region: %s, endpoint: %q%s}\n", srv.Region, srv.URL, extra)
	}
	env := harness.Start(b, harness.Options{ExtraBackends: backend("")})
	policy := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "Keygated", Principals: []string{role}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "ACS", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign"}},
	)
	ctx := context.Background()
	env.CreateKeyApproved(&pb.CreateKeyRequest{KeyId: "kms-signing", KeySpec: "ECC_NIST_P256",
		KeyUsage: "SIGN_VERIFY", Backend: "kms", Policy: policy})
	budgeted := env.StartProcess(func(c *server.Config) {
		// A copy: the env's config is shared with the other process.
		c.Backends = slices.Clone(c.Backends)
		for i := range c.Backends {
			if c.Backends[i].Name == "kms" {
				node := c.Backends[i].Config
				node.Content = append(slices.Clone(node.Content),
					yamlScalar("requests_per_second"), yamlScalar(fmt.Sprint(kmsBudget)), yamlScalar("burst"), yamlScalar("30"))
				c.Backends[i].Config = node
			}
		}
	})
	plain := env.StartProcess(nil)
	srv.SetQuota("Sign", kmsQuota)
	req := &pb.SignRequest{KeyId: "kms-signing", Message: []byte("acs signed content"), SigningAlgorithm: "ECDSA_SHA_256"}
	d := 2 * roundTime()
	fmt.Printf("\nKMS Sign quota %d/s at test/kmsserver; c=16, %v per run, 3 interleaved runs each\n", kmsQuota, d)
	fmt.Printf("%-28s %8s %8s %9s %9s %9s %10s\n", "keygated", "ok/s", "p99 ms", "shed/s", "throttl/s", "other/s", "KMS thr/s")
	for range rounds {
		for _, p := range []struct {
			name string
			proc *harness.Process
		}{{fmt.Sprintf("budget %d/s", kmsBudget), budgeted}, {"no budget", plain}} {
			cs := pb.NewCryptoServiceClient(env.ProcessConn(p.proc, "acs"))
			before := srv.Throttled()
			s := shedRun(ctx, 16, d, func() error { _, err := cs.Sign(ctx, req); return err })
			sec := s.elapsed.Seconds()
			fmt.Printf("%-28s %8.0f %8.2f %9.0f %9.0f %9.0f %10.0f\n", p.name, float64(len(s.ok))/sec, ms(s.p99()),
				float64(s.shed)/sec, float64(s.throttled)/sec, float64(s.other)/sec, float64(srv.Throttled()-before)/sec)
			if s.other > 0 {
				fmt.Fprintf(os.Stderr, "kms bench: %s: unexpected error: %v\n", p.name, s.lastOther)
			}
		}
	}
}

// shedStats is one run: latencies of successful calls, and failures by
// cause (shed by keygated's budget, throttling passed through from KMS).
type shedStats struct {
	mu                     sync.Mutex
	ok                     []time.Duration
	shed, throttled, other int
	lastOther              error
	elapsed                time.Duration
}

func (s *shedStats) p99() time.Duration {
	if len(s.ok) == 0 {
		return 0
	}
	sorted := append([]time.Duration(nil), s.ok...)
	slices.Sort(sorted)
	return sorted[min(len(sorted)-1, len(sorted)*99/100)]
}

func shedRun(ctx context.Context, c int, d time.Duration, op func() error) *shedStats {
	s := &shedStats{}
	start := time.Now()
	stop := start.Add(d)
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				t := time.Now()
				err := op()
				lat := time.Since(t)
				s.mu.Lock()
				switch st := status.Convert(err); {
				case err == nil:
					s.ok = append(s.ok, lat)
				case st.Code() == codes.ResourceExhausted && strings.Contains(st.Message(), "budget"):
					s.shed++
				case st.Code() == codes.ResourceExhausted:
					s.throttled++
				default:
					s.other++
					s.lastOther = err
				}
				s.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.elapsed = time.Since(start)
	return s
}

func yamlScalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: v} }
