package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/metadata"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// A keygated killed with SIGKILL under load loses no call it answered:
// after a restart the log verifies, and every Sign the client saw succeed
// is in it.
func TestCrashLosesNoAnsweredCall(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	stopServer(t, env) // from here on only the keygated process runs
	p := env.StartProcess(nil)
	cs := pb.NewCryptoServiceClient(env.ProcessConn(p, "acs"))

	var (
		mu        sync.Mutex
		succeeded []string
		ok        atomic.Int64
		wg        sync.WaitGroup
		killed    = make(chan struct{})
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				id := fmt.Sprintf("crash-%d-%d", w, i)
				ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", id)
				if _, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte(id)}); err != nil {
					continue // in flight when the process died, or refused since
				}
				mu.Lock()
				succeeded = append(succeeded, id)
				mu.Unlock()
				if ok.Add(1) == 300 {
					p.Kill()
					close(killed)
				}
			}
		}()
	}
	wg.Wait()

	p2 := env.StartProcess(nil)
	conn := env.ProcessConn(p2, "admin")
	v, err := pb.NewAuditServiceClient(conn).VerifyLog(context.Background(), &pb.VerifyLogRequest{})
	if err != nil || !v.Ok {
		t.Fatalf("VerifyLog after the crash: %+v %v", v, err)
	}
	logged := map[string]bool{}
	token := ""
	for {
		resp, err := pb.NewAuditServiceClient(conn).ListEvents(context.Background(), &pb.ListEventsRequest{
			Filter: &pb.EventFilter{Action: "kms:Sign", Result: "OK"}, PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range resp.Events {
			logged[e.CorrelationId] = true
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	for _, id := range succeeded {
		if !logged[id] {
			t.Errorf("Sign %s was answered but is not in the audit log", id)
		}
	}
	t.Logf("%d answered Signs, all in the log; %d events, %d unprotected after the crash", len(succeeded), v.Events, v.Unprotected)
}
