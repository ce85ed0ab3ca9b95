package server

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/audit"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// overall is the overall health as a load balancer sees it.
func (e *testEnv) overall(ctx context.Context) healthpb.HealthCheckResponse_ServingStatus {
	e.t.Helper()
	resp, err := healthpb.NewHealthClient(e.as("acs")).Check(ctx, &healthpb.HealthCheckRequest{})
	must(e.t, err)
	return resp.Status
}

// waitOverall polls the overall health until it is want; the deadline is
// generous (a loaded machine), and the test asserts the state, not the time.
func (e *testEnv) waitOverall(want healthpb.HealthCheckResponse_ServingStatus) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for e.overall(ctx) != want {
		select {
		case <-ctx.Done():
			e.t.Fatalf("overall health never became %s", want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// breakAuditStore makes every audit commit fail in the store itself, as a
// full disk does, until the returned function repairs it.
func (e *testEnv) breakAuditStore() (repair func()) {
	e.t.Helper()
	ctx := context.Background()
	_, err := e.srv.db.ExecContext(ctx, `CREATE TRIGGER fault_disk_full BEFORE INSERT ON audit_events
		BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END`)
	must(e.t, err)
	return func() {
		_, err := e.srv.db.ExecContext(ctx, `DROP TRIGGER fault_disk_full`)
		must(e.t, err)
	}
}

// While the audit log cannot commit, the overall health is NOT_SERVING and
// every call is refused Unavailable before any work, with a bounded log;
// once the store takes writes again the replica records an audit.resumed
// event with the count, says SERVING and answers, with no restart, and
// the chain verifies.
func TestHealthFollowsAuditLog(t *testing.T) {
	e := startEnv(t, "")
	e.createKey("mac", "HMAC_256", "GENERATE_VERIFY_MAC", policyDoc(map[string][]string{arn("acs"): {"kms:GenerateMac"}}))
	ctx := context.Background()
	acs := e.crypto("acs")
	mac := func() error {
		_, err := acs.GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "mac", Message: []byte("cavv"), MacAlgorithm: "HMAC_SHA_256"})
		return err
	}
	must(t, mac())
	if st := e.overall(ctx); st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("overall health at start: %s", st)
	}

	repair := e.breakAuditStore()
	if err := mac(); status.Code(err) != codes.Unavailable {
		t.Fatalf("call while the audit store fails: %v, want Unavailable", err)
	}
	if st := e.overall(ctx); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("overall health while the audit log cannot commit: %s", st)
	}
	if r := e.srv.Readiness(); r.Ready || len(r.Reasons) != 1 || r.Reasons[0] != "audit log cannot commit" {
		t.Fatalf("Readiness: %+v", r)
	}
	before := strings.Count(e.log.String(), "\n")
	const calls = 10000
	var wg sync.WaitGroup
	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < calls; i += 8 {
				c := status.Code(mac())
				mu.Lock()
				codesSeen[c]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if codesSeen[codes.Unavailable] != calls {
		t.Fatalf("codes during the outage: %v, want %d Unavailable", codesSeen, calls)
	}
	logged := strings.Count(e.log.String(), "\n") - before
	t.Logf("%d calls refused, %d log lines", calls, logged)
	if logged > 20 {
		t.Fatalf("%d log lines for %d refused calls; want a handful:\n%s", logged, calls, e.log.String())
	}
	if r := e.srv.Readiness(); r.Unrecorded < calls {
		t.Fatalf("Readiness counts %d unrecorded calls, want at least %d", r.Unrecorded, calls)
	}

	repair()
	e.waitOverall(healthpb.HealthCheckResponse_SERVING)
	must(t, mac())
	ev := e.lastEvent("keygate:" + string(audit.KindAuditResumed))
	if ev.Kind != audit.KindAuditResumed || !strings.Contains(ev.Detail, "calls refused unrecorded since") {
		t.Fatalf("resumed event: %+v", ev)
	}
	v, err := audit.NewVerifier(e.srv.chain.signerPublic())
	must(t, err)
	rep, err := audit.Verify(ctx, e.srv.auditStore, v)
	must(t, err)
	if !rep.OK() {
		t.Fatalf("chain after the outage: %+v", rep)
	}
}

// During shutdown the overall health says NOT_SERVING for good.
func TestHealthDrain(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	e.srv.ready.drain()
	if st := e.overall(ctx); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("overall health while draining: %s", st)
	}
	e.srv.ready.backendResult("mem", nil)
	e.srv.ready.probeAudit(ctx, e.srv.chain, time.Second)
	if st := e.overall(ctx); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("overall health after a probe while draining: %s", st)
	}
}
