package audit

import (
	"errors"
	"sync/atomic"

	"github.com/keygate/keygate/internal/kgerr"
)

// errSaturated marks a Record refused because MaxPending events already
// wait for a commit: the store is slower than the calls, and queueing more
// would only grow memory and every caller's latency.
var errSaturated = errors.New("audit writer queue full")

// IsSaturated reports whether err is Record's refusal of a full queue
// (Unavailable, like a failed commit, but it clears as soon as the
// writer catches up).
func IsSaturated(err error) bool { return errors.Is(err, errSaturated) }

// queue bounds the events waiting at the writer's entry. It is separate
// from the commit path on purpose: whatever commits, this is the bound.
type queue struct {
	n   atomic.Int64
	max int64
}

// enter takes a place for one event, or refuses at once.
func (q *queue) enter() error {
	if q.n.Add(1) > q.max {
		q.n.Add(-1)
		return kgerr.Wrap(kgerr.Unavailable, errSaturated, "audit log saturated")
	}
	return nil
}

// leave frees n places once their events are committed (or failed).
func (q *queue) leave(n int) { q.n.Add(int64(-n)) }

// Saturated says whether the queue is full now, for refusing a call before
// it does any work.
func (l *Log) Saturated() bool { return l.queue.n.Load() >= l.queue.max }
