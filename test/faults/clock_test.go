package faults

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// The clock jumps back an hour, forward two, and back one under load, in
// a keygated built with -tags keygate_testclock (its clock is then set
// through /debug/clock on the loopback pprof listener; a production build
// has no such control). Each jump is recorded in the chain as one
// clock.jumped event naming it, events after it carry the new clock's
// times, every call is still answered, and checkpoints go on being signed
// and verify (VerifyLog judges their age by the server's clock).
func TestClockJumps(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("clock-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	stopInProcess(t, env)
	env.BuildTags = "keygate_testclock"
	debug := harness.FreeAddr(t)
	p := env.StartProcess(func(c *server.Config) { c.PprofListen, c.Audit.CheckpointEvery = debug, 100 })
	admin := pb.NewAuditServiceClient(env.ProcessConn(p, "admin"))
	l := startLoad(t, pb.NewCryptoServiceClient(env.ProcessConn(p, "acs")), "clock-signing", 8, 10*time.Second)
	l.waitAnswered(200)

	offset := time.Duration(0)
	for i, jump := range []time.Duration{-time.Hour, 2 * time.Hour, -time.Hour} {
		cps := verified(t, admin).Checkpoints
		offset += jump
		resp, err := http.Post(fmt.Sprintf("http://%s/debug/clock?offset=%s", debug, offset), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("POST /debug/clock: %s", resp.Status)
		}
		var jumps []*pb.AuditEvent
		until(t, fmt.Sprintf("clock.jumped event %d", i+1), func() bool {
			jumps = clockJumps(t, admin)
			return len(jumps) > i
		})
		if len(jumps) != i+1 {
			t.Fatalf("%d clock.jumped events after %d jumps", len(jumps), i+1)
		}
		ev := jumps[i]
		by := jumpIn(t, ev.Detail)
		if d := by - jump; d > 5*time.Second || d < -5*time.Second {
			t.Errorf("jump %d of %s recorded as %s: %q", i+1, jump, by, ev.Detail)
		}
		if d := ev.Time.AsTime().Sub(time.Now().Add(offset)); d > time.Minute || d < -time.Minute {
			t.Errorf("the clock.jumped event's time %s is not on the new clock (offset %s)", ev.Time.AsTime(), offset)
		}
		// Checkpoints (one per 100 events) go on after the jump and verify.
		l.waitAnswered(l.ok.Load() + 300)
		if v := verified(t, admin); v.Checkpoints <= cps {
			t.Errorf("no checkpoint signed after jump %d (%d before, %d after)", i+1, cps, v.Checkpoints)
		}
	}
	l.end()
	answered, refused := l.snapshot()
	if len(refused) > 0 {
		t.Errorf("calls refused across the clock jumps: %v", refused)
	}
	record(row{fault: "clock jumps -1h, +2h, -1h", answered: len(answered), refused: refused,
		lost: lost(t, env, p, "kms:Sign", answered), rssMB: p.PeakRSS() >> 20, logLines: -1})
}

// verified is VerifyLog's answer, which must be ok.
func verified(t *testing.T, admin pb.AuditServiceClient) *pb.VerifyLogResponse {
	t.Helper()
	v, err := admin.VerifyLog(context.Background(), &pb.VerifyLogRequest{})
	if err != nil || !v.Ok {
		t.Fatalf("VerifyLog: %+v %v", v, err)
	}
	return v
}

func clockJumps(t *testing.T, admin pb.AuditServiceClient) []*pb.AuditEvent {
	t.Helper()
	resp, err := admin.ListEvents(context.Background(), &pb.ListEventsRequest{Filter: &pb.EventFilter{Kind: "clock.jumped"}, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Events
}

var jumpedBy = regexp.MustCompile(`jumped (\S+) against`)

// jumpIn reads the jump out of a clock.jumped event's detail.
func jumpIn(t *testing.T, detail string) time.Duration {
	t.Helper()
	m := jumpedBy.FindStringSubmatch(detail)
	if m == nil {
		t.Fatalf("clock.jumped detail %q names no jump", detail)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		t.Fatalf("clock.jumped detail %q: %v", detail, err)
	}
	return d
}
