package kms

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// A KMS that stays down trips the breaker: after breakerTrip failed calls
// no request reaches KMS and callers get Unavailable at once; once KMS is
// back, a trial call closes the breaker again. Throttling does not trip it.
func TestBreakerStopsPilingOnADownKMS(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.ECCNISTP256, keys.SignVerify)
	ctx := context.Background()

	f.srv.Throttle("Sign", 3*(breakerTrip+1))
	for range breakerTrip + 1 {
		_, err := k.Sign(ctx, keys.ECDSASHA256, digest)
		wantKind(t, err, kgerr.ResourceExhausted)
	}
	f.srv.ClearFaults()
	if _, err := k.Sign(ctx, keys.ECDSASHA256, digest); err != nil {
		t.Fatalf("throttling tripped the breaker: %v", err)
	}

	f.srv.FailInternal("Sign", 1<<20)
	for range breakerTrip {
		_, err := k.Sign(ctx, keys.ECDSASHA256, digest)
		wantKind(t, err, kgerr.Unavailable)
	}
	reached := len(records(f.srv, "Sign"))
	for range 20 {
		_, err := k.Sign(ctx, keys.ECDSASHA256, digest)
		wantKind(t, err, kgerr.Unavailable)
	}
	if n := len(records(f.srv, "Sign")); n != reached {
		t.Fatalf("%d Sign requests reached a KMS the breaker had given up on", n-reached)
	}

	f.srv.ClearFaults()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := k.Sign(ctx, keys.ECDSASHA256, digest)
		if err == nil {
			break
		}
		wantKind(t, err, kgerr.Unavailable)
		if time.Now().After(deadline) {
			t.Fatal("the breaker never closed after KMS came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
