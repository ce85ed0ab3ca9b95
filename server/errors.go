package server

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/keys"
)

// codeOf is the one place a keygate error becomes a gRPC code.
var codeOf = [...]codes.Code{
	keys.Internal:           codes.Internal,
	keys.InvalidArgument:    codes.InvalidArgument,
	keys.NotFound:           codes.NotFound,
	keys.AlreadyExists:      codes.AlreadyExists,
	keys.FailedPrecondition: codes.FailedPrecondition,
	keys.PermissionDenied:   codes.PermissionDenied,
	keys.ResourceExhausted:  codes.ResourceExhausted,
	keys.Unavailable:        codes.Unavailable,
	keys.DeadlineExceeded:   codes.DeadlineExceeded,
	keys.Canceled:           codes.Canceled,
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
	k := keys.KindOf(err)
	code := codes.Internal
	if int(k) < len(codeOf) {
		code = codeOf[k]
	}
	return status.Error(code, keys.Message(err))
}

// codeName is the result recorded for a call: "OK" or the gRPC code name.
func codeName(err error) string {
	if err == nil {
		return "OK"
	}
	return status.Code(toStatus(err)).String()
}
