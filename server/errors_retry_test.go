package server

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/kgerr"
)

// A ResourceExhausted error with a retry-after carries it to the caller as
// google.rpc.RetryInfo; the message stays the caller-safe one.
func TestToStatusRetryInfo(t *testing.T) {
	err := toStatus(&kgerr.Error{Kind: kgerr.ResourceExhausted, Msg: "over budget", RetryAfter: 1500 * time.Millisecond})
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || st.Message() != "over budget" {
		t.Fatalf("status %v", st)
	}
	var got time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			got = ri.RetryDelay.AsDuration()
		}
	}
	if got != 1500*time.Millisecond {
		t.Fatalf("RetryInfo delay %v, want 1.5s", got)
	}
	if len(status.Convert(toStatus(kgerr.Errorf(kgerr.ResourceExhausted, "x"))).Details()) != 0 {
		t.Fatal("RetryInfo without a retry-after")
	}
}
