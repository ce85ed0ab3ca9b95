// Package kgerr is keygate's one domain error: a kind that says what the
// caller can do about a failure, a caller-safe message, and the cause kept
// for logs. It sits apart from the key model so that policy, threeds and
// the backends report through it without importing keys.
package kgerr

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Kind classifies a failure by what the caller can do about it. The server
// maps each kind to exactly one gRPC code (server/errors.go); nothing else
// in keygate decides status codes.
type Kind int

const (
	Internal           Kind = iota // a bug or an unexpected backend answer
	InvalidArgument                // the request is wrong; retrying it will not help
	NotFound                       // the key (or version) does not exist
	AlreadyExists                  // a key of that name exists
	FailedPrecondition             // the key exists but is in the wrong state or usage
	PermissionDenied               // policy or backend said no
	ResourceExhausted              // throttled or over a limit
	Unavailable                    // backend or audit log unreachable; retry later
	DeadlineExceeded               // the caller's deadline passed
	Canceled                       // the caller went away
)

var kindNames = [...]string{"Internal", "InvalidArgument", "NotFound", "AlreadyExists",
	"FailedPrecondition", "PermissionDenied", "ResourceExhausted", "Unavailable",
	"DeadlineExceeded", "Canceled"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is keygate's one domain error. Msg is safe to show to the caller:
// it never carries key material, plaintext or policy text. Err is the cause,
// kept for logs and errors.Is/As, and never sent over the wire.
type Error struct {
	Kind Kind
	Msg  string
	Err  error
	// RetryAfter, when set on a ResourceExhausted error, is how long the
	// caller should wait before trying again (sent as RetryInfo).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a caller-safe message.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Wrap gives cause a kind and a caller-safe message; the cause's own text is
// kept for logs only.
func Wrap(kind Kind, cause error, msg string) error {
	return &Error{Kind: kind, Msg: msg, Err: cause}
}

// KindOf reports the kind of err: the kind of the first *Error in its chain,
// else DeadlineExceeded/Canceled for context errors, else Internal.
func KindOf(err error) Kind {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e.Kind
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return Canceled
	}
	return Internal
}

// Message is the caller-safe text of err: the Msg of the first *Error in its
// chain, else a generic text for its kind.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	switch KindOf(err) {
	case DeadlineExceeded:
		return "deadline exceeded"
	case Canceled:
		return "request canceled"
	}
	return "internal error"
}

// RetryAfterOf is the RetryAfter of the first *Error in err's chain that
// sets one, else zero.
func RetryAfterOf(err error) time.Duration {
	for err != nil {
		if e, ok := err.(*Error); ok && e.RetryAfter > 0 {
			return e.RetryAfter
		}
		err = errors.Unwrap(err)
	}
	return 0
}
