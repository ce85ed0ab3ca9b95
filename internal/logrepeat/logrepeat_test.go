package logrepeat

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// testHandler is a Handler on a buffer whose interval ends only when the
// test says so.
func testHandler(buf *bytes.Buffer) (*slog.Logger, func()) {
	h := New(slog.NewTextHandler(buf, nil), time.Minute)
	var pending []func()
	h.st.after = func(_ time.Duration, f func()) { pending = append(pending, f) }
	end := func() {
		fs := pending
		pending = nil
		for _, f := range fs {
			f()
		}
	}
	return slog.New(h), end
}

func lines(buf *bytes.Buffer) []string {
	return strings.Split(strings.TrimSpace(buf.String()), "\n")
}

func TestRepeatsBecomeOneLinePerInterval(t *testing.T) {
	var buf bytes.Buffer
	log, endInterval := testHandler(&buf)
	for range 10000 {
		log.Error("audit record failed; refusing the call", "method", "/keygate.v1.CryptoService/Sign", "err", "disk full")
	}
	log.Warn("call shed", "reason", "audit log unavailable")
	log.Warn("call shed", "reason", "principal at its limit")
	log.Info("audit", "action", "kms:Sign")
	log.Info("audit", "action", "kms:Sign")
	if got := lines(&buf); len(got) != 5 {
		t.Fatalf("before the interval ends: %d lines, want 5 (one per cause, info untouched):\n%s", len(got), buf.String())
	}
	if !strings.Contains(buf.String(), "disk full") {
		t.Fatalf("the first line of a cause keeps its attributes:\n%s", buf.String())
	}
	buf.Reset()
	endInterval()
	got := lines(&buf)
	if len(got) != 1 || !strings.Contains(got[0], "repeated=9999") || !strings.Contains(got[0], "first=") ||
		!strings.Contains(got[0], "last=") || !strings.Contains(got[0], "audit record failed") {
		t.Fatalf("after the interval: want one summary line with the count, first and last:\n%s", buf.String())
	}
	// The outage goes on: one summary per interval, nothing per call.
	buf.Reset()
	for range 500 {
		log.Error("audit record failed; refusing the call", "err", "disk full")
	}
	if buf.Len() != 0 {
		t.Fatalf("a continuing cause wrote lines mid-interval:\n%s", buf.String())
	}
	endInterval()
	if got := lines(&buf); len(got) != 1 || !strings.Contains(got[0], "repeated=500") {
		t.Fatalf("second interval: %q", got)
	}
	// A quiet interval ends the cause: its next occurrence is written whole.
	buf.Reset()
	endInterval()
	log.Error("audit record failed; refusing the call", "err", "disk full again")
	if got := lines(&buf); len(got) != 1 || !strings.Contains(got[0], "disk full again") {
		t.Fatalf("after a quiet interval: %q", got)
	}
}

func TestClonesShareCounts(t *testing.T) {
	var buf bytes.Buffer
	log, _ := testHandler(&buf)
	a := log.With("replica", "a")
	b := log.WithGroup("g")
	a.Error("store down")
	b.Error("store down")
	log.Error("store down")
	if got := lines(&buf); len(got) != 1 || !strings.Contains(got[0], "replica=a") {
		t.Fatalf("clones: %q", got)
	}
	if err := a.Handler().Handle(context.Background(), slog.NewRecord(time.Time{}, slog.LevelError, "zero time", 0)); err != nil {
		t.Fatal(err)
	}
}
