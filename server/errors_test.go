package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/kgerr"
)

// Each kind maps to exactly one code; the caller sees only the caller-safe
// message, never the cause.
func TestErrorMapping(t *testing.T) {
	want := map[kgerr.Kind]codes.Code{
		kgerr.Internal: codes.Internal, kgerr.InvalidArgument: codes.InvalidArgument, kgerr.NotFound: codes.NotFound,
		kgerr.AlreadyExists: codes.AlreadyExists, kgerr.FailedPrecondition: codes.FailedPrecondition,
		kgerr.PermissionDenied: codes.PermissionDenied, kgerr.ResourceExhausted: codes.ResourceExhausted,
		kgerr.Unavailable: codes.Unavailable, kgerr.DeadlineExceeded: codes.DeadlineExceeded, kgerr.Canceled: codes.Canceled,
	}
	if len(want) != len(codeOf) {
		t.Fatalf("codeOf maps %d kinds; the test knows %d", len(codeOf), len(want))
	}
	for k, code := range want {
		err := toStatus(kgerr.Wrap(k, errors.New("secret cause: PIN 1234"), "what the caller may read"))
		st := status.Convert(err)
		if st.Code() != code || st.Message() != "what the caller may read" {
			t.Errorf("%s: %s %q, want %s and the safe message", k, st.Code(), st.Message(), code)
		}
		if codeName(kgerr.Errorf(k, "x")) != code.String() {
			t.Errorf("%s: codeName %s", k, codeName(kgerr.Errorf(k, "x")))
		}
	}
	for name, tc := range map[string]struct {
		err  error
		code codes.Code
	}{
		"a plain error is Internal, its text kept out": {errors.New("database password is hunter2"), codes.Internal},
		"a wrapped kgerr keeps its kind":               {fmt.Errorf("context: %w", kgerr.Errorf(kgerr.NotFound, "no key")), codes.NotFound},
		"a deadline":                                   {context.DeadlineExceeded, codes.DeadlineExceeded},
		"a cancellation":                               {fmt.Errorf("op: %w", context.Canceled), codes.Canceled},
	} {
		st := status.Convert(toStatus(tc.err))
		if st.Code() != tc.code {
			t.Errorf("%s: %s, want %s", name, st.Code(), tc.code)
		}
		if strings.Contains(st.Message(), "hunter2") {
			t.Errorf("%s: the cause reached the caller: %q", name, st.Message())
		}
	}
	if toStatus(nil) != nil || codeName(nil) != "OK" {
		t.Error("nil is not OK")
	}
}

// Free text an event carries is clipped, on a rune boundary, so an event
// always fits.
func TestClip(t *testing.T) {
	if clip("short") != "short" {
		t.Error("short text changed")
	}
	long := strings.Repeat("é", 2000)
	got := clip(long)
	if len(got) > maxText || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("clipped to %d bytes, valid UTF-8 %t", len(got), utf8.ValidString(got))
	}
}
