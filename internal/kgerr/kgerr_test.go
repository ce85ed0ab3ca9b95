package kgerr

import (
	"errors"
	"fmt"
	"testing"
)

func TestErrors(t *testing.T) {
	cause := fmt.Errorf("driver: secret detail")
	err := fmt.Errorf("wrapped: %w", Wrap(Unavailable, cause, "key store unavailable"))
	if KindOf(err) != Unavailable || Message(err) != "key store unavailable" || !errors.Is(err, cause) {
		t.Fatalf("Wrap: kind %v, message %q", KindOf(err), Message(err))
	}
	if Message(errors.New("boom")) != "internal error" || KindOf(errors.New("boom")) != Internal {
		t.Fatal("a plain error must be Internal with a generic message")
	}
}
