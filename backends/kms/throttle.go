package kms

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

// A throttled call whose retries are cut short by the caller's deadline
// must still read as throttling (ResourceExhausted), not as a slow KMS.
// The SDK drops the throttling error when the deadline ends its backoff
// sleep, so the retryer notes each throttled attempt in the call's
// context, and fail reads the note.

type noteKey struct{}

// callNote is what the retryer saw during one call.
type callNote struct{ throttled atomic.Bool }

// withNote starts a call's note.
func withNote(ctx context.Context) context.Context {
	return context.WithValue(ctx, noteKey{}, &callNote{})
}

func throttledDuring(ctx context.Context) bool {
	n, ok := ctx.Value(noteKey{}).(*callNote)
	return ok && n.throttled.Load()
}

// notingRetryer is the configured retryer, noting throttled attempts.
type notingRetryer struct{ aws.RetryerV2 }

func (r notingRetryer) GetRetryToken(ctx context.Context, opErr error) (func(error) error, error) {
	var apiErr smithy.APIError
	if n, ok := ctx.Value(noteKey{}).(*callNote); ok && errors.As(opErr, &apiErr) && isThrottle(apiErr.ErrorCode()) {
		n.throttled.Store(true)
	}
	return r.RetryerV2.GetRetryToken(ctx, opErr)
}

// noting wraps r when it has the SDK's current retryer interface (the
// standard and adaptive retryers do); any other retryer is left as is.
func noting(r aws.Retryer) aws.Retryer {
	if v2, ok := r.(aws.RetryerV2); ok {
		return notingRetryer{v2}
	}
	return r
}
