package kms

import (
	"context"
	"errors"
	"net"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

// done reports the request id of the attempt that succeeded: it is
// CloudTrail's requestID for this call.
func done(ctx context.Context, md middleware.Metadata) {
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok && id != "" {
		backends.SetRequestID(ctx, id)
	}
}

// fail reports the request id of the failed attempt, if KMS answered at
// all (CloudTrail logs some failures too), and translates err.
func (b *Backend) fail(ctx context.Context, op string, err error) error {
	requestIDOf(ctx, err)
	if e := shedError(b.name, op, err); e != nil {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) && throttledDuring(ctx) {
		return kgerr.Wrap(kgerr.ResourceExhausted, err, "kms backend "+quote(b.name)+": "+op+
			": KMS throttled the request and the deadline passed before a retry got through")
	}
	return translate(b.name, op, err)
}

func requestIDOf(ctx context.Context, err error) {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.ServiceRequestID() != "" {
		backends.SetRequestID(ctx, re.ServiceRequestID())
	}
}

// authCodes are KMS's answers when keygate's own credentials are wrong:
// an operator must fix the deployment, the caller can only retry later.
var authCodes = map[string]bool{
	"UnrecognizedClientException": true, "InvalidSignatureException": true,
	"IncompleteSignatureException": true, "MissingAuthenticationTokenException": true,
	"ExpiredTokenException": true, "InvalidClientTokenId": true,
}

// translate turns a KMS client error into a *kgerr.Error, explicitly by
// exception type, so a throttled call, a disabled key and a denied call
// never look alike. Msg names the backend and operation, never KMS's own
// message (which the cause keeps for logs).
func translate(name, op string, err error) error {
	where := "kms backend " + quote(name) + ": " + op
	var (
		notFound    *types.NotFoundException
		disabled    *types.DisabledException
		badState    *types.KMSInvalidStateException
		badCipher   *types.InvalidCiphertextException
		wrongKey    *types.IncorrectKeyException
		badUsage    *types.InvalidKeyUsageException
		internal    *types.KMSInternalException
		depTimeout  *types.DependencyTimeoutException
		unavailable *types.KeyUnavailableException
		tagErr      *types.TagException
		badPolicy   *types.MalformedPolicyDocumentException
		unsupported *types.UnsupportedOperationException
		apiErr      smithy.APIError
		respErr     *awshttp.ResponseError
		sendErr     *smithyhttp.RequestSendError
		netErr      net.Error
	)
	switch {
	case errors.Is(err, errCircuitOpen):
		return kgerr.Wrap(kgerr.Unavailable, err, where+": KMS is failing repeatedly; calls paused")
	case errors.Is(err, context.DeadlineExceeded):
		return kgerr.Wrap(kgerr.DeadlineExceeded, err, where+": deadline exceeded")
	case errors.Is(err, context.Canceled):
		return kgerr.Wrap(kgerr.Canceled, err, where+": request canceled")
	case errors.As(err, &notFound):
		return kgerr.Wrap(kgerr.NotFound, err, where+": KMS key not found")
	case errors.As(err, &disabled):
		return kgerr.Wrap(kgerr.FailedPrecondition, err, where+": KMS key is disabled")
	case errors.As(err, &badState):
		return kgerr.Wrap(kgerr.FailedPrecondition, err, where+": KMS key is not in a usable state (pending deletion or pending import)")
	case errors.As(err, &badCipher), errors.As(err, &wrongKey):
		return kgerr.Wrap(kgerr.InvalidArgument, err, backends.DecryptFailed)
	case errors.As(err, &badUsage), errors.As(err, &unsupported):
		return kgerr.Wrap(kgerr.FailedPrecondition, err, where+": the KMS key's spec or usage does not allow this operation")
	case errors.As(err, &badPolicy):
		// KMS also says this when the policy would lock the caller out.
		return kgerr.Wrap(kgerr.InvalidArgument, err, where+": KMS rejected the policy document (malformed, or it would lock keygate out of the key)")
	case errors.As(err, &tagErr):
		return kgerr.Wrap(kgerr.InvalidArgument, err, where+": KMS rejected the key's tags")
	case errors.As(err, &internal), errors.As(err, &depTimeout), errors.As(err, &unavailable):
		return kgerr.Wrap(kgerr.Unavailable, err, where+": KMS is unavailable")
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "AccessDeniedException":
		return kgerr.Wrap(kgerr.PermissionDenied, err, where+": KMS denied keygate's role this operation on the key")
	case errors.As(err, &apiErr) && isThrottle(apiErr.ErrorCode()):
		return kgerr.Wrap(kgerr.ResourceExhausted, err, where+": KMS throttled the request and retries did not get through")
	case errors.As(err, &apiErr) && authCodes[apiErr.ErrorCode()]:
		return kgerr.Wrap(kgerr.Unavailable, err, where+": KMS rejected keygate's AWS credentials")
	case errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500:
		return kgerr.Wrap(kgerr.Unavailable, err, where+": KMS is unavailable")
	case errors.As(err, &apiErr) && apiErr.ErrorCode() == "ValidationException":
		return kgerr.Wrap(kgerr.InvalidArgument, err, where+": KMS rejected the request as invalid")
	case errors.As(err, &sendErr), errors.As(err, &netErr):
		return kgerr.Wrap(kgerr.Unavailable, err, where+": KMS cannot be reached")
	}
	return kgerr.Wrap(kgerr.Internal, err, where+": unexpected KMS error")
}

func isThrottle(code string) bool {
	_, ok := retry.DefaultThrottleErrorCodes[code]
	return ok
}

func quote(s string) string { return `"` + s + `"` }
