package faults

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// load is a steady stream of Sign calls from several workers, each with
// its own x-request-id, so every answered call can be found in the log.
type load struct {
	t        *testing.T
	name     string
	deadline time.Duration

	mu       sync.Mutex
	codes    map[codes.Code]int
	answered []string
	lastOK   time.Time // when the newest answered call began
	cutoff   time.Time // calls begun after it are not counted (zero: all are)

	stop chan struct{}
	wg   sync.WaitGroup
	ok   atomic.Int64
	bad  atomic.Int64
}

// startLoad runs workers Sign callers on key until stopped; each call has
// deadline.
func startLoad(t *testing.T, cs pb.CryptoServiceClient, key string, workers int, deadline time.Duration) *load {
	return startLoadWith(t, cs, key, workers, deadline, false)
}

// startLoadWith is startLoad; with pushback each worker waits as long as
// a ResourceExhausted refusal's grpc-retry-pushback-ms says, as the Go
// client's retry does.
func startLoadWith(t *testing.T, cs pb.CryptoServiceClient, key string, workers int, deadline time.Duration, pushback bool) *load {
	l := &load{t: t, name: key, deadline: deadline, codes: map[codes.Code]int{}, stop: make(chan struct{})}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := fmt.Sprintf("%s-%d-%d", key, w, i)
				ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-request-id", id), deadline)
				begun := time.Now()
				var trailer metadata.MD
				_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: key, Message: []byte(id)}, grpc.Trailer(&trailer))
				cancel()
				if v := trailer.Get("grpc-retry-pushback-ms"); pushback && len(v) == 1 {
					if ms, perr := strconv.Atoi(v[0]); perr == nil {
						time.Sleep(time.Duration(ms) * time.Millisecond)
					}
				}
				l.mu.Lock()
				if !l.cutoff.IsZero() && begun.After(l.cutoff) {
					l.mu.Unlock()
					continue
				}
				if err == nil {
					l.answered = append(l.answered, id)
					if begun.After(l.lastOK) {
						l.lastOK = begun
					}
					l.ok.Add(1)
				} else {
					l.codes[status.Code(err)]++
					l.bad.Add(1)
				}
				l.mu.Unlock()
			}
		}()
	}
	t.Cleanup(l.end)
	return l
}

// stopCounting leaves calls begun from now on out of the counts.
func (l *load) stopCounting() {
	l.mu.Lock()
	l.cutoff = time.Now()
	l.mu.Unlock()
}

func (l *load) end() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// until polls cond with a generous deadline: the machine is shared, so
// the test waits for states, never for amounts of time.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (l *load) waitAnswered(n int64) {
	l.t.Helper()
	until(l.t, fmt.Sprintf("%d answered calls", n), func() bool { return l.ok.Load() >= n })
}

func (l *load) waitRefused(n int64) {
	l.t.Helper()
	until(l.t, fmt.Sprintf("%d refused calls", n), func() bool { return l.bad.Load() >= n })
}

// recovered waits for an answer to a call begun after since and says how
// long after since that call began.
func (l *load) recovered(since time.Time) time.Duration {
	l.t.Helper()
	var at time.Time
	until(l.t, "an answer after the fault ended", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		at = l.lastOK
		return at.After(since)
	})
	return at.Sub(since)
}

// snapshot is what callers saw so far.
func (l *load) snapshot() (answered []string, refused map[codes.Code]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	refused = map[codes.Code]int{}
	for c, n := range l.codes {
		refused[c] = n
	}
	return append([]string(nil), l.answered...), refused
}

// health is the overall health of a process as a load balancer sees it.
func health(env *harness.Env, p *harness.Process) healthpb.HealthCheckResponse_ServingStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(env.ProcessConn(p, "acs")).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return healthpb.HealthCheckResponse_UNKNOWN
	}
	return resp.Status
}

func waitHealth(t *testing.T, env *harness.Env, p *harness.Process, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	until(t, "overall health "+want.String(), func() bool { return health(env, p) == want })
}

// lost counts answered calls whose record is not in the audit log, read
// through p (a running keygated on the same store), and checks the chain.
func lost(t *testing.T, env *harness.Env, p *harness.Process, action string, answered []string) int {
	t.Helper()
	conn := env.ProcessConn(p, "admin")
	ctx := context.Background()
	v, err := pb.NewAuditServiceClient(conn).VerifyLog(ctx, &pb.VerifyLogRequest{})
	if err != nil || !v.Ok {
		t.Fatalf("VerifyLog: %+v %v", v, err)
	}
	logged := harness.LoggedCalls(t, pb.NewAuditServiceClient(conn), action)
	n := 0
	for _, id := range answered {
		if !logged[id] {
			n++
			t.Errorf("call %s was answered but is not in the audit log", id)
		}
	}
	return n
}

// lineCounter counts the lines keygated writes and keeps the last few KB.
type lineCounter struct {
	n    atomic.Int64
	mu   sync.Mutex
	tail []byte
}

func (c *lineCounter) Write(p []byte) (int, error) {
	c.n.Add(int64(bytes.Count(p, []byte("\n"))))
	c.mu.Lock()
	c.tail = append(c.tail, p...)
	if len(c.tail) > 16<<10 {
		c.tail = c.tail[len(c.tail)-8<<10:]
	}
	c.mu.Unlock()
	return len(p), nil
}

func (c *lineCounter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.tail)
}

// stopInProcess stops the harness's own server, so only keygated
// processes use the store from then on.
func stopInProcess(t *testing.T, env *harness.Env) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env.Server.Shutdown(ctx)
	if err := env.Server.Close(); err != nil {
		t.Fatal(err)
	}
}

const maxRSS = 150 << 20
