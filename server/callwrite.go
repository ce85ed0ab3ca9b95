package server

import (
	"context"
	"database/sql"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
)

// A call whose answer depends on a write to keygated's store (a 3DS
// session's insert, a challenge counter's advance) commits that write
// with its audit event, in one transaction: the call pays one durable
// commit, not one for the write and another for the event. Concurrent
// such calls share the transaction (group commit, as the audit log's own
// writer does): a batch's first caller waits for the previous batch to
// commit, the callers arriving meanwhile join it, and it commits them all.
// A crash loses neither half alone: the write and its record are durable
// together before the answer, or neither is and no answer was given.

// callWrite is the store write a call's answer depends on (see
// threeds.Write). A write that returns an error changed nothing: the call
// fails with that error and its event is recorded as a failure.
type callWrite struct {
	// order sorts the writes of one transaction (the session id), so
	// replicas sharing PostgreSQL never lock rows in crossed orders.
	order string
	run   func(ctx context.Context, tx *sql.Tx) error
}

// writeTimeout bounds one batch's transaction, as the audit log's
// WriteTimeout does: a batch serves many callers, so no single caller's
// context governs it.
const writeTimeout = 5 * time.Second

// writeBatcher group-commits calls that carry a write.
type writeBatcher struct {
	mu   sync.Mutex
	cur  *writeBatch
	slot chan struct{} // held by the batch committing now
}

type writeBatch struct {
	calls []*Call
	errs  []error // per call: its write's (or its event's) refusal
	err   error   // the transaction's
	done  chan struct{}
}

func newWriteBatcher() *writeBatcher {
	return &writeBatcher{cur: &writeBatch{done: make(chan struct{})}, slot: make(chan struct{}, 1)}
}

// commitWrite makes c's write durable with c's audit event. recorded
// says the event committed with it; without the audit log (disabled) the
// write commits alone and the caller records the call as usual. An error
// means the write did not happen: the caller must not answer with what
// depended on it.
func (s *Server) commitWrite(ctx context.Context, c *Call) (recorded bool, err error) {
	if s.chain == nil {
		ctx := context.WithoutCancel(ctx)
		return false, s.db.WriteTx(ctx, func(tx *sql.Tx) error { return c.write.run(ctx, tx) })
	}
	_, sp := s.span(ctx, "keygate.audit")
	b := s.writes
	b.mu.Lock()
	batch := b.cur
	i := len(batch.calls)
	batch.calls = append(batch.calls, c)
	batch.errs = append(batch.errs, nil)
	b.mu.Unlock()
	if i == 0 {
		// The batch's first caller commits it, once the batch before has.
		b.slot <- struct{}{}
		runtime.Gosched() // callers already runnable join this batch
		b.mu.Lock()
		b.cur = &writeBatch{done: make(chan struct{})}
		b.mu.Unlock()
		batch.err = s.commitBatch(batch)
		<-b.slot
		close(batch.done)
	}
	<-batch.done // not the caller's ctx: the answer waits for its record, as finish does
	err = batch.err
	if err == nil {
		err = batch.errs[i]
	}
	endSpan(sp, c, err)
	return err == nil, err
}

// commitBatch runs the batch's writes, in order, and appends the events of
// those that succeeded, in one transaction. A write or event refused
// alone leaves the others to commit; a failed transaction fails them all.
func (s *Server) commitBatch(b *writeBatch) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	start, events := time.Now(), 0
	order := make([]int, len(b.calls))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int { return strings.Compare(b.calls[x].write.order, b.calls[y].write.order) })
	err := s.db.WriteTx(ctx, func(tx *sql.Tx) error {
		links := make([]func(audit.Head) ([]audit.Record, error), 0, len(b.calls))
		for _, i := range order {
			c := b.calls[i]
			e := s.chain.eventOf(c)
			link, err := s.chain.log.Stage(&e)
			if err == nil {
				err = c.write.run(ctx, tx)
			}
			if b.errs[i] = err; err == nil {
				links = append(links, link)
			}
		}
		if events = len(links); events == 0 {
			return nil
		}
		_, err := s.auditStore.AppendTx(ctx, tx, func(h audit.Head) ([]audit.Record, error) {
			var all []audit.Record
			for _, link := range links {
				recs, err := link(h)
				if err != nil {
					return nil, err
				}
				all = append(all, recs...)
				h = audit.Head{Seq: recs[len(recs)-1].Seq, Hash: recs[len(recs)-1].Hash}
			}
			return all, nil
		})
		return err
	})
	if err != nil {
		s.metrics.auditCommitFails.Inc()
		return kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
	}
	// A group commit of the audit log like the writer's (metrics_audit.go).
	s.metrics.auditCommit.Observe(time.Since(start).Seconds())
	s.metrics.auditBatch.Observe(float64(events))
	s.metrics.auditEvents.Add(float64(events))
	return nil
}
