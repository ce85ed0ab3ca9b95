package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/keygate/keygate/internal/kgerr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Exit codes, one per class of failure a script may act on differently;
// `keygate help` documents them (exitText).
const (
	exitOK        = 0
	exitInvalid   = 1 // a signature or MAC did not verify
	exitUsage     = 2
	exitArgument  = 3
	exitNotFound  = 4
	exitState     = 5
	exitDenied    = 6
	exitRetry     = 7
	exitInternal  = 8
	exitUnhandled = exitInternal
)

var exitOf = map[codes.Code]int{
	codes.InvalidArgument:    exitArgument,
	codes.OutOfRange:         exitArgument,
	codes.NotFound:           exitNotFound,
	codes.FailedPrecondition: exitState,
	codes.AlreadyExists:      exitState,
	codes.PermissionDenied:   exitDenied,
	codes.Unauthenticated:    exitDenied,
	codes.Unavailable:        exitRetry,
	codes.DeadlineExceeded:   exitRetry,
	codes.ResourceExhausted:  exitRetry,
	codes.Canceled:           exitRetry,
}

// exitOfKind is exitOf for keys.Kind, whose names are gRPC's code names.
var exitOfKind = map[kgerr.Kind]int{
	kgerr.Internal: exitInternal, kgerr.InvalidArgument: exitArgument, kgerr.NotFound: exitNotFound,
	kgerr.AlreadyExists: exitState, kgerr.FailedPrecondition: exitState, kgerr.PermissionDenied: exitDenied,
	kgerr.ResourceExhausted: exitRetry, kgerr.Unavailable: exitRetry, kgerr.DeadlineExceeded: exitRetry,
	kgerr.Canceled: exitRetry,
}

// errInvalid is returned by the verify verbs after printing "invalid".
var errInvalid = errors.New("invalid")

// usageError is a mistake on the command line or a local file that cannot
// be read: nothing was sent.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usageErr(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// report prints err on stderr and returns its exit code.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errInvalid) {
		return exitInvalid
	}
	var refused *refusedError
	if errors.As(err, &refused) {
		fmt.Fprintf(stderr, "keygate: %v\n", refused)
		return exitDenied
	}
	var pin *pinError
	if errors.As(err, &pin) {
		fmt.Fprintf(stderr, "keygate: %v\n", pin)
		return exitDenied
	}
	var u *usageError
	if errors.As(err, &u) {
		fmt.Fprintf(stderr, "keygate: %s\n", u.msg)
		return exitUsage
	}
	// A local check (policy validate) fails with keygate's own domain
	// error: it prints and exits as the same failure from the server would.
	var ke *kgerr.Error
	if errors.As(err, &ke) {
		fmt.Fprintf(stderr, "keygate: %s: %s\n", ke.Kind, ke.Msg)
		if code, ok := exitOfKind[ke.Kind]; ok {
			return code
		}
		return exitInternal
	}
	st, ok := status.FromError(err)
	if !ok {
		fmt.Fprintf(stderr, "keygate: %v\n", err)
		return exitUnhandled
	}
	code := exitOf[st.Code()]
	if code == 0 {
		code = exitInternal
	}
	// A refused client certificate surfaces as Unavailable from the
	// transport; it is an authentication failure, not a reason to retry.
	if st.Code() == codes.Unavailable && refusedCert(st.Message()) {
		code = exitDenied
	}
	fmt.Fprintf(stderr, "keygate: %s: %s\n", st.Code(), st.Message())
	return code
}

func refusedCert(msg string) bool {
	for _, s := range []string{"certificate required", "bad certificate", "unknown certificate", "certificate signed by unknown"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
