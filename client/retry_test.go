package client_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/client"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/kmsserver"
)

// A throttled KMS-backed Sign is retried by the client (keygated's own SDK
// retries are off here, so each throttle reaches the client), and a KMS
// that stays throttled ends the call at the caller's deadline.
func TestRetriesThrottledKMSCallsWithinTheDeadline(t *testing.T) {
	srv := kmsserver.New(t)
	srv.SetPrincipal(kmsserver.TestAccessKeyID, "arn:aws:iam::111122223333:role/keygated")
	t.Setenv("AWS_ACCESS_KEY_ID", kmsserver.TestAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", kmsserver.TestSecretAccessKey)
	t.Setenv("AWS_REGION", srv.Region)
	kenv := harness.Start(t, harness.Options{ExtraBackends: `
  - name: kms
    type: kms
    config: {region: ` + srv.Region + `, endpoint: "` + srv.URL + `", max_attempts: 1}
`})
	ctx := context.Background()
	kenv.CreateKeyApproved(&pb.CreateKeyRequest{KeyId: "acs-kms", KeySpec: "ECC_NIST_P256",
		KeyUsage: "SIGN_VERIFY", Backend: "kms", Policy: harness.OpenPolicy()})
	ca, cert, key := kenv.TLSFiles("acs")
	c, err := client.Dial(ctx, kenv.Addr, client.WithTLSFiles(ca, cert, key))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := &pb.SignRequest{KeyId: "acs-kms", Message: []byte("acsSignedContent")}

	srv.Throttle("Sign", 2)
	if _, err := c.Crypto.Sign(client.WithRequestID(ctx, "retried-sign"), msg); err != nil {
		t.Fatalf("two throttles, four attempts: %v", err)
	}
	resp, err := pb.NewAuditServiceClient(kenv.Conn("admin")).ListEvents(ctx, &pb.ListEventsRequest{Filter: &pb.EventFilter{Action: "kms:Sign"}, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	for _, e := range resp.Events {
		if e.CorrelationId == "retried-sign" {
			results = append(results, e.Result)
		}
	}
	if len(results) != 3 || results[0] != "ResourceExhausted" || results[2] != "OK" {
		t.Fatalf("attempts in the audit log: %v, want two ResourceExhausted then OK", results)
	}

	// Throttled for good, and slow: the client stops at its deadline.
	srv.Throttle("Sign", 1000)
	// Four attempts of at least 800 ms cannot fit in 2 s.
	srv.SetLatency("Sign", 800*time.Millisecond)
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err = c.Crypto.Sign(dctx, msg); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("a KMS that stays throttled: %v, want DeadlineExceeded", err)
	}
}
