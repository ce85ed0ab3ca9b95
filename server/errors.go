package server

import (
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/keygate/keygate/internal/kgerr"
)

// codeOf is the one place a keygate error becomes a gRPC code.
var codeOf = [...]codes.Code{
	kgerr.Internal:           codes.Internal,
	kgerr.InvalidArgument:    codes.InvalidArgument,
	kgerr.NotFound:           codes.NotFound,
	kgerr.AlreadyExists:      codes.AlreadyExists,
	kgerr.FailedPrecondition: codes.FailedPrecondition,
	kgerr.PermissionDenied:   codes.PermissionDenied,
	kgerr.ResourceExhausted:  codes.ResourceExhausted,
	kgerr.Unavailable:        codes.Unavailable,
	kgerr.DeadlineExceeded:   codes.DeadlineExceeded,
	kgerr.Canceled:           codes.Canceled,
}

// toStatus turns err into a gRPC status carrying only the caller-safe
// message; the cause stays in the server's log.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	k := kgerr.KindOf(err)
	code := codes.Internal
	if int(k) < len(codeOf) {
		code = codeOf[k]
	}
	if d := kgerr.RetryAfterOf(err); d > 0 {
		// The standard hint (google.rpc.RetryInfo) that gRPC clients read.
		st, derr := status.New(code, kgerr.Message(err)).WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		if derr == nil {
			return st.Err()
		}
	}
	return status.Error(code, kgerr.Message(err))
}

// codeName is the result recorded for a call: "OK" or the gRPC code name.
func codeName(err error) string {
	if err == nil {
		return "OK"
	}
	return status.Code(toStatus(err)).String()
}
