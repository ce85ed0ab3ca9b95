package kms

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/test/kmsserver"
)

var digest = func() []byte { d := sha256.Sum256([]byte("m")); return d[:] }()

// records returns the server's CloudTrail records of one operation.
func records(srv *kmsserver.Server, op string) []kmsserver.Record {
	var out []kmsserver.Record
	for _, r := range srv.Records() {
		if r.EventName == op {
			out = append(out, r)
		}
	}
	return out
}

func TestThrottlingRetriedThenResourceExhausted(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.ECCNISTP256, keys.SignVerify)

	// Two throttles, then success within the three attempts: the request id
	// reported is the one of the attempt that succeeded, and it is the
	// CloudTrail record's requestID.
	f.srv.Throttle("Sign", 2)
	ctx, info := withInfo()
	if _, err := k.Sign(ctx, keys.ECDSASHA256, digest); err != nil {
		t.Fatalf("Sign after 2 throttles: %v", err)
	}
	recs := records(f.srv, "Sign")
	if len(recs) != 3 || recs[0].ErrorCode != "ThrottlingException" || recs[2].ErrorCode != "" {
		t.Fatalf("want 2 throttled Sign records then a success, got %+v", recs)
	}
	if info.RequestID != recs[2].RequestID || info.RequestID == recs[0].RequestID {
		t.Fatalf("request id %q, want the successful attempt's %q", info.RequestID, recs[2].RequestID)
	}

	// Throttled on every attempt: ResourceExhausted, after all 3 attempts.
	f.srv.Throttle("Sign", 3)
	_, err := k.Sign(context.Background(), keys.ECDSASHA256, digest)
	wantKind(t, err, kgerr.ResourceExhausted)
	if n := len(records(f.srv, "Sign")); n != 6 {
		t.Fatalf("%d Sign calls reached KMS, want 6 (3 attempts)", n)
	}
}

func TestDisabledAndPendingDeletion(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	k := f.create(t, keys.SymmetricDefault, keys.EncryptDecrypt)
	blob, err := k.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.raw.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k.ID())}); err != nil {
		t.Fatal(err)
	}
	if st, err := k.State(ctx); err != nil || st != "Disabled" {
		t.Fatalf("State = %q, %v; want Disabled", st, err)
	}
	_, err = k.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("x"), nil)
	wantKind(t, err, kgerr.FailedPrecondition)
	_, err = k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, nil)
	wantKind(t, err, kgerr.FailedPrecondition)
	if n := len(records(f.srv, "Encrypt")); n != 2 {
		t.Fatalf("a disabled key was retried: %d Encrypt calls, want 2", n)
	}

	_, err = f.raw.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k.ID()), PendingWindowInDays: aws.Int32(7)})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := f.b.KeyState(ctx, k.ID()); st != "PendingDeletion" {
		t.Fatalf("KeyState = %q, want PendingDeletion", st)
	}
	_, err = k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, nil)
	wantKind(t, err, kgerr.FailedPrecondition)

	// A disabled asymmetric key cannot be opened: KMS keeps its public key.
	s := f.create(t, keys.ECCNISTP256, keys.SignVerify)
	if _, err := f.raw.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(s.ID())}); err != nil {
		t.Fatal(err)
	}
	_, err = f.b.Open(ctx, s.ID(), keys.ECCNISTP256, keys.SignVerify)
	wantKind(t, err, kgerr.FailedPrecondition)
	_, err = s.Sign(ctx, keys.ECDSASHA256, digest)
	wantKind(t, err, kgerr.FailedPrecondition)
}

func TestOutageIsUnavailable(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.HMAC256, keys.GenerateVerifyMac)

	// 500s on every attempt: retried, then Unavailable.
	f.srv.FailInternal("GenerateMac", 3)
	_, err := k.MAC(context.Background(), keys.HMACSHA256, []byte("m"))
	wantKind(t, err, kgerr.Unavailable)
	if n := len(records(f.srv, "GenerateMac")); n != 3 {
		t.Fatalf("%d GenerateMac attempts, want 3", n)
	}
	// One 500 then success: the retryer hides it.
	f.srv.FailInternal("GenerateMac", 1)
	if _, err := k.MAC(context.Background(), keys.HMACSHA256, []byte("m")); err != nil {
		t.Fatalf("MAC after one 500: %v", err)
	}
	// The endpoint gone: connection refused is Unavailable too.
	f.srv.Close()
	_, err = k.MAC(context.Background(), keys.HMACSHA256, []byte("m"))
	wantKind(t, err, kgerr.Unavailable)
}

func TestDeniedThrottledDisabledDiffer(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	k := f.create(t, keys.ECCNISTP256, keys.SignVerify)
	f.srv.Fail("Sign", 1, "AccessDeniedException", "User: arn:aws:iam::111122223333:user/keygate is not authorized to perform: kms:Sign")
	ctxInfo, info := withInfo()
	_, denied := k.Sign(ctxInfo, keys.ECDSASHA256, digest)
	wantKind(t, denied, kgerr.PermissionDenied)
	if recs := records(f.srv, "Sign"); len(recs) != 1 || recs[0].RequestID != info.RequestID || recs[0].ErrorCode != "AccessDeniedException" {
		t.Fatalf("a denied call must be tried once and report its request id; records %+v, id %q", recs, info.RequestID)
	}
	f.srv.Throttle("Sign", 3)
	_, throttled := k.Sign(ctx, keys.ECDSASHA256, digest)
	wantKind(t, throttled, kgerr.ResourceExhausted)
	if _, err := f.raw.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k.ID())}); err != nil {
		t.Fatal(err)
	}
	_, disabled := k.Sign(ctx, keys.ECDSASHA256, digest)
	wantKind(t, disabled, kgerr.FailedPrecondition)
	msgs := map[string]bool{kgerr.Message(denied): true, kgerr.Message(throttled): true, kgerr.Message(disabled): true}
	if len(msgs) != 3 {
		t.Fatalf("denied, throttled and disabled share a message: %v", msgs)
	}
}

func TestDeadlineBoundsRetries(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.ECCNISTP256, keys.SignVerify)
	f.srv.SetLatency("Sign", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := k.Sign(ctx, keys.ECDSASHA256, digest)
	wantKind(t, err, kgerr.DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cause %v is not the caller's deadline", err)
	}
}

// TestThrottledPastDeadline: when the caller's deadline ends the SDK's
// backoff, a throttled call is still ResourceExhausted, not a timeout.
func TestThrottledPastDeadline(t *testing.T) {
	srv := kmsserver.New(t)
	cfg := testConfig(srv, 1000)
	cfg.Retryer = func() aws.Retryer {
		// The SDK's own backoff (1 s base for throttling), and more attempts
		// than the deadline can hold, so the deadline ends the retries.
		return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 1000 })
	}
	b := New("kms", cfg, Options{Endpoint: srv.URL})
	f := &fixture{srv: srv, b: b}
	k := f.create(t, keys.HMAC256, keys.GenerateVerifyMac)
	srv.Throttle("GenerateMac", 1000)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := k.MAC(ctx, keys.HMACSHA256, []byte("m"))
	wantKind(t, err, kgerr.ResourceExhausted)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("retries did not end at the deadline: %v", err)
	}
	// Without throttling, the deadline is the deadline.
	srv.ClearFaults()
	srv.SetLatency("GenerateMac", time.Minute)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = k.MAC(ctx2, keys.HMACSHA256, []byte("m"))
	wantKind(t, err, kgerr.DeadlineExceeded)
}

func TestWrongCredentialsAreUnavailable(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.HMAC256, keys.GenerateVerifyMac)
	f.srv.SetCredentials(testAccessKey, "rotated-secret", "") // keygated's secret is now stale
	_, err := k.MAC(context.Background(), keys.HMACSHA256, []byte("m"))
	wantKind(t, err, kgerr.Unavailable)
	if !strings.Contains(kgerr.Message(err), "credentials") {
		t.Fatalf("message %q does not point at the credentials", kgerr.Message(err))
	}
}
