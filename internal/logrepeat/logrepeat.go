// Package logrepeat keeps a log useful during an outage: when one cause
// fails every call, the log gets the cause's first line and then one line
// per interval saying how often it repeated, between which times, instead
// of one line per call on a disk that may be the thing that is full.
//
// A cause is a record's level, message and "reason" attribute. Only
// warnings and errors are limited: info lines (the structured audit
// lines when the audit log is off) pass untouched.
package logrepeat

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Handler wraps another slog.Handler. Its clones (WithAttrs, WithGroup)
// share one count per cause.
type Handler struct {
	next slog.Handler
	st   *state
}

type state struct {
	every  time.Duration
	now    func() time.Time
	after  func(time.Duration, func()) // time.AfterFunc; tests flush by hand
	mu     sync.Mutex
	causes map[cause]*window
}

type cause struct {
	level       slog.Level
	msg, reason string
}

// window is one cause's current interval.
type window struct {
	h           slog.Handler // the handler that wrote the first line, with its attrs
	n           int          // repeats not written
	first, last time.Time    // of the repeats
}

// New limits next to one line per cause per every (default 10s).
func New(next slog.Handler, every time.Duration) *Handler {
	if every <= 0 {
		every = 10 * time.Second
	}
	st := &state{every: every, now: time.Now, causes: map[cause]*window{},
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
	return &Handler{next: next, st: st}
}

func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	return &Handler{next: h.next.WithAttrs(as), st: h.st}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), st: h.st}
}

// Handle writes r if it is the first of its cause in this interval, and
// counts it otherwise.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	c := cause{level: r.Level, msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "reason" {
			c.reason = a.Value.String()
			return false
		}
		return true
	})
	t := r.Time
	if t.IsZero() {
		t = h.st.now()
	}
	st := h.st
	st.mu.Lock()
	if w := st.causes[c]; w != nil {
		if w.n++; w.first.IsZero() {
			w.first = t
		}
		w.last = t
		st.mu.Unlock()
		return nil
	}
	st.causes[c] = &window{h: h.next}
	st.mu.Unlock()
	st.after(st.every, func() { st.flush(c) })
	return h.next.Handle(ctx, r)
}

// flush ends c's interval: a line with the count if it repeated (and a
// new interval, for an outage that goes on), else nothing.
func (st *state) flush(c cause) {
	st.mu.Lock()
	w := st.causes[c]
	if w == nil || w.n == 0 {
		delete(st.causes, c)
		st.mu.Unlock()
		return
	}
	n, first, last, h := w.n, w.first, w.last, w.h
	w.n, w.first = 0, time.Time{}
	st.mu.Unlock()
	st.after(st.every, func() { st.flush(c) })
	r := slog.NewRecord(st.now(), c.level, c.msg, 0)
	if c.reason != "" {
		r.AddAttrs(slog.String("reason", c.reason))
	}
	r.AddAttrs(slog.Int("repeated", n), slog.Time("first", first), slog.Time("last", last))
	h.Handle(context.Background(), r)
}
