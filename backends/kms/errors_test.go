package kms

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

// sdkErr wraps an API error the way the SDK returns it: an operation
// error around an HTTP response error carrying the request id.
func sdkErr(api error, status int) error {
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: status}}
	return &smithy.OperationError{ServiceID: "KMS", OperationName: "Sign",
		Err: &awshttp.ResponseError{RequestID: "req-1", ResponseError: &smithyhttp.ResponseError{Response: resp, Err: api}}}
}

func TestTranslate(t *testing.T) {
	generic := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: "m"} }
	for _, tc := range []struct {
		name string
		err  error
		want kgerr.Kind
	}{
		{"NotFound", sdkErr(&types.NotFoundException{}, 400), kgerr.NotFound},
		{"Disabled", sdkErr(&types.DisabledException{}, 400), kgerr.FailedPrecondition},
		{"InvalidState", sdkErr(&types.KMSInvalidStateException{}, 400), kgerr.FailedPrecondition},
		{"InvalidKeyUsage", sdkErr(&types.InvalidKeyUsageException{}, 400), kgerr.FailedPrecondition},
		{"InvalidCiphertext", sdkErr(&types.InvalidCiphertextException{}, 400), kgerr.InvalidArgument},
		{"IncorrectKey", sdkErr(&types.IncorrectKeyException{}, 400), kgerr.InvalidArgument},
		{"MalformedPolicy", sdkErr(&types.MalformedPolicyDocumentException{}, 400), kgerr.InvalidArgument},
		{"Tag", sdkErr(&types.TagException{}, 400), kgerr.InvalidArgument},
		{"Validation", sdkErr(generic("ValidationException"), 400), kgerr.InvalidArgument},
		{"AccessDenied", sdkErr(generic("AccessDeniedException"), 400), kgerr.PermissionDenied},
		{"Throttling after retries", &retry.MaxAttemptsError{Attempt: 3, Err: sdkErr(generic("ThrottlingException"), 400)}, kgerr.ResourceExhausted},
		{"LimitExceeded", sdkErr(&types.LimitExceededException{}, 400), kgerr.ResourceExhausted},
		{"Internal", sdkErr(&types.KMSInternalException{}, 500), kgerr.Unavailable},
		{"DependencyTimeout", sdkErr(&types.DependencyTimeoutException{}, 503), kgerr.Unavailable},
		{"KeyUnavailable", sdkErr(&types.KeyUnavailableException{}, 500), kgerr.Unavailable},
		{"unmodeled 503", sdkErr(generic("ServiceUnavailable"), 503), kgerr.Unavailable},
		{"bad credentials", sdkErr(generic("UnrecognizedClientException"), 400), kgerr.Unavailable},
		{"connection", &smithy.OperationError{Err: &smithyhttp.RequestSendError{Err: errors.New("connection refused")}}, kgerr.Unavailable},
		{"deadline", &smithy.OperationError{Err: context.DeadlineExceeded}, kgerr.DeadlineExceeded},
		{"canceled", &smithy.OperationError{Err: &smithy.CanceledError{Err: context.Canceled}}, kgerr.Canceled},
		{"unknown 400", sdkErr(generic("SomethingNew"), 400), kgerr.Internal},
	} {
		info := &backends.CallInfo{}
		ctx := backends.WithCallInfo(context.Background(), info)
		b := &Backend{name: "kms"}
		err := b.fail(ctx, "Sign", tc.err)
		var ke *kgerr.Error
		if !errors.As(err, &ke) || ke.Kind != tc.want {
			t.Errorf("%s: %v, want kind %v", tc.name, err, tc.want)
			continue
		}
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: the SDK error is not kept as the cause", tc.name)
		}
		if _, isResp := errors.AsType[*awshttp.ResponseError](tc.err); isResp && info.RequestID != "req-1" {
			t.Errorf("%s: request id %q not reported", tc.name, info.RequestID)
		}
	}
}
