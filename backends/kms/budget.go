package kms

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/keygate/keygate/internal/kgerr"
)

// KMS's quotas are per account and region and shared by every caller: a
// service that goes over them is throttled, and so is every other service
// of the account. A budget keeps keygated under its share: every request
// to KMS (each retry too) takes a token, and a request with no token is
// refused before it is sent, with ResourceExhausted and a retry-after
// hint, instead of being throttled by KMS.

// requests counts the requests each KMS backend sent and refused, by
// backend, operation and key: "NAME Sign arn:aws:kms:...". keygated
// serves it at /debug/vars on pprof_listen.
var requests = expvar.NewMap("kms_requests")

// shed counts the requests a budget refused, with the same keys.
var shed = expvar.NewMap("kms_requests_shed")

// overBudget is a request the budget refused.
type overBudget struct{ wait time.Duration }

func (e *overBudget) Error() string {
	return fmt.Sprintf("over the configured KMS request budget; retry in %v", e.wait)
}

// budget is one backend's request-rate limit; nil means none.
type budget struct {
	name string
	lim  *rate.Limiter
}

func newBudget(name string, perSecond float64, burst int) *budget {
	if perSecond <= 0 {
		return &budget{name: name}
	}
	if burst <= 0 {
		burst = max(1, int(perSecond))
	}
	return &budget{name: name, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// middleware counts and budgets each attempt: it sits after the SDK's
// retry step, so a retry is a request like any other.
func (bg *budget) middleware(st *middleware.Stack) error {
	return st.Finalize.Insert(middleware.FinalizeMiddlewareFunc("KeygateBudget",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			key := bg.name + " " + awsmiddleware.GetOperationName(ctx) + " " + keyOf(middleware.GetStackValue(ctx, inputKey{}))
			if bg.lim != nil {
				r := bg.lim.Reserve()
				if d := r.Delay(); d > 0 {
					r.Cancel()
					shed.Add(key, 1)
					return middleware.FinalizeOutput{}, middleware.Metadata{}, &overBudget{wait: d}
				}
			}
			requests.Add(key, 1)
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}

// inputKey carries the operation's input from the initialize step (the
// only one that sees it) to the budget.
type inputKey struct{}

func keepInput(st *middleware.Stack) error {
	return st.Initialize.Add(middleware.InitializeMiddlewareFunc("KeygateInput",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(middleware.WithStackValue(ctx, inputKey{}, in.Parameters), in)
		}), middleware.Before)
}

// keyOf is the key a request names, for the counts; "-" if none.
func keyOf(in any) string {
	var id *string
	switch v := in.(type) {
	case *kms.SignInput:
		id = v.KeyId
	case *kms.VerifyInput:
		id = v.KeyId
	case *kms.EncryptInput:
		id = v.KeyId
	case *kms.DecryptInput:
		id = v.KeyId
	case *kms.GenerateDataKeyInput:
		id = v.KeyId
	case *kms.GenerateMacInput:
		id = v.KeyId
	case *kms.VerifyMacInput:
		id = v.KeyId
	case *kms.DeriveSharedSecretInput:
		id = v.KeyId
	case *kms.GetPublicKeyInput:
		id = v.KeyId
	case *kms.DescribeKeyInput:
		id = v.KeyId
	}
	if id == nil {
		return "-"
	}
	return *id
}

// shedError is the caller's view of a refused request.
func shedError(name, op string, err error) error {
	var ob *overBudget
	if !errors.As(err, &ob) {
		return nil
	}
	return &kgerr.Error{Kind: kgerr.ResourceExhausted, Err: err, RetryAfter: ob.wait,
		Msg: "kms backend " + quote(name) + ": " + op + ": over keygated's KMS request budget for this backend; retry later"}
}
