package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"sync"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// Config configures a Log.
type Config struct {
	Store  Store
	Signer Signer // signs checkpoints; required
	// ContextSecret keys the HMAC of encryption context values; at least
	// 32 bytes, kept as secret as the data it protects.
	ContextSecret []byte
	// Replica is written into events that do not name one.
	Replica string
	// A checkpoint is signed after CheckpointEvery events (default 1000)
	// or CheckpointInterval (default 1m) since the last one, whichever
	// comes first.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// Witnesses get a copy of every checkpoint once it is stored.
	Witnesses []Witness
	// WriteTimeout bounds one group-commit transaction (default 5s). A
	// batch serves many callers, so no single caller's context governs it.
	WriteTimeout time.Duration
	// MaxPending bounds the events waiting for a commit (default 4096);
	// Record refuses more at once with an Unavailable error (IsSaturated).
	MaxPending int
	// OnError hears about background failures (checkpoints); it may be nil.
	OnError func(error)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Log is the tamper-evident audit log. Record is safe for concurrent use:
// concurrent callers' events are committed together in one transaction
// (group commit), and each caller returns once its event is durable.
type Log struct {
	cfg      Config
	keyID    string
	verifier *Verifier
	macs     sync.Pool // HMAC states for HashContext
	queue    queue     // bounds events waiting for the writer

	cpMu    sync.Mutex // serializes Checkpoint
	trusted Head       // the chain up to here verified and checkpointed

	mu     sync.Mutex
	cur    *batch // events waiting for the next commit
	closed bool
	head   Head          // last head this log committed
	own    run           // the chain this log extended without interruption
	cpErr  error         // last scheduled checkpoint's failure
	signed Head          // copy of trusted, for Status without waiting on a signature
	change chan struct{} // closed and replaced on every commit (for Follow)

	wake    chan struct{} // a batch is waiting
	cpWake  chan struct{} // enough events for a checkpoint
	stop    chan struct{}
	stopped sync.WaitGroup
}

// run is a stretch of the chain from..to made only of this log's own
// batches, each linked onto the previous one's head inside its
// transaction: the checkpointer need not read it back to trust it.
type run struct{ from, to Head }

type batch struct {
	events []*Event
	done   chan struct{}
	err    error
}

// New starts a log on cfg.Store. Close it to flush, checkpoint and stop.
func New(cfg Config) (*Log, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("audit: Config.Store is required")
	case cfg.Signer == nil:
		return nil, errors.New("audit: Config.Signer is required")
	case len(cfg.ContextSecret) < 32:
		return nil, errors.New("audit: Config.ContextSecret must be at least 32 bytes")
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = 1000
	}
	if cfg.CheckpointInterval <= 0 {
		cfg.CheckpointInterval = time.Minute
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 4096
	}
	v, err := NewVerifier(cfg.Signer.Public())
	if err != nil {
		return nil, err
	}
	l := &Log{cfg: cfg, keyID: v.KeyID(), verifier: v, cur: newBatch(0), change: make(chan struct{}),
		wake: make(chan struct{}, 1), cpWake: make(chan struct{}, 1), stop: make(chan struct{})}
	secret := append([]byte(nil), cfg.ContextSecret...)
	l.macs.New = func() any { return newMAC(secret) }
	l.queue.max = int64(cfg.MaxPending)
	l.stopped.Add(2)
	go l.writer()
	go l.checkpointer()
	return l, nil
}

func newBatch(n int) *batch {
	return &batch{events: make([]*Event, 0, max(n, 16)), done: make(chan struct{})}
}

// Record appends e to the log and returns once it is durable, with e.Seq,
// e.PrevHash and e.Hash set. If the store cannot be written it returns a
// kgerr.Unavailable error: the caller must then fail the call it audits.
// e must not be modified until Record returns. If ctx ends first, Record
// returns a DeadlineExceeded or Canceled error although the event may
// still be committed later; e must then not be reused at all.
func (l *Log) Record(ctx context.Context, e *Event) error {
	if err := l.prepare(e); err != nil {
		return err
	}
	if err := l.queue.enter(); err != nil {
		return err
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.queue.leave(1)
		return kgerr.Errorf(kgerr.Unavailable, "audit log is closed")
	}
	b := l.cur
	b.events = append(b.events, e)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default: // the writer is already signalled
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		// The event may still be committed; the call fails either way.
		return kgerr.Wrap(kgerr.KindOf(ctx.Err()), ctx.Err(), "audit record not confirmed before the request ended")
	}
}

// prepare fills defaults and rejects events the log must not store.
func (l *Log) prepare(e *Event) error {
	if e.Kind == "" {
		return kgerr.Errorf(kgerr.InvalidArgument, "audit event: kind is empty")
	}
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	if e.Replica == "" {
		e.Replica = l.cfg.Replica
	}
	for i := 1; i < len(e.Context); i++ {
		if e.Context[i-1].Key >= e.Context[i].Key {
			return kgerr.Errorf(kgerr.InvalidArgument, "audit event: context keys must be unique and sorted (use Log.HashContext)")
		}
	}
	if n := encodedSize(e); n > MaxEventSize {
		return kgerr.Errorf(kgerr.InvalidArgument, "audit event: %d bytes encoded, over the %d byte limit", n, MaxEventSize)
	}
	sanitize(e)
	return nil
}

// writer is the one goroutine that commits: while one batch is in its
// transaction, the next one fills up.
func (l *Log) writer() {
	defer l.stopped.Done()
	for {
		var stopping bool
		select {
		case <-l.wake:
		case <-l.stop:
			stopping = true
		}
		// Let callers that are already runnable join this batch: one
		// yield costs far less than the commit it saves them.
		runtime.Gosched()
		l.mu.Lock()
		b := l.cur
		l.cur = newBatch(len(b.events))
		l.closed = l.closed || stopping
		l.mu.Unlock()
		if len(b.events) > 0 {
			b.err = l.commit(b.events)
			close(b.done)
			l.queue.leave(len(b.events))
		}
		if stopping {
			return
		}
	}
}

// commit writes events in one Append and wakes followers and the
// checkpointer.
func (l *Log) commit(events []*Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.WriteTimeout)
	defer cancel()
	var start Head
	head, err := l.cfg.Store.Append(ctx, func(h Head) ([]Record, error) {
		start = h
		return link(h, events), nil
	})
	if err != nil {
		return kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
	}
	l.mu.Lock()
	last := l.head
	l.head = head
	if start != l.own.to {
		l.own.from = start // another writer (or someone else) moved the head
	}
	l.own.to = head
	close(l.change)
	l.change = make(chan struct{})
	l.mu.Unlock()
	if head.Seq/uint64(l.cfg.CheckpointEvery) != last.Seq/uint64(l.cfg.CheckpointEvery) {
		select {
		case l.cpWake <- struct{}{}:
		default:
		}
	}
	return nil
}

// link chains events onto head: it sets their Seq, PrevHash and Hash and
// encodes them all into one buffer, one allocation per batch.
func link(head Head, events []*Event) []Record {
	size := 0
	for _, e := range events {
		size += encodedSize(e)
	}
	buf := make([]byte, 0, size)
	recs := make([]Record, len(events))
	for i, e := range events {
		e.Seq, e.PrevHash = head.Seq+1, head.Hash
		start := len(buf)
		buf = AppendCanonical(buf, e)
		body := buf[start:len(buf):len(buf)]
		e.Hash = sha256.Sum256(body)
		head = Head{Seq: e.Seq, Hash: e.Hash}
		recs[i] = Record{Seq: e.Seq, TimeNs: e.Time.UnixNano(), Kind: e.Kind, Principal: e.Principal,
			Action: e.Action, KeyName: e.KeyName, Result: e.Result, Hash: e.Hash, Body: body}
	}
	return recs
}

// Close stops accepting events, commits those waiting, signs a final
// checkpoint so a clean shutdown leaves no unprotected tail, and stops.
// It does not close the store.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if already {
		return nil
	}
	close(l.stop)
	l.stopped.Wait()
	if _, err := l.Checkpoint(ctx); err != nil {
		return fmt.Errorf("audit: final checkpoint: %w", err)
	}
	return nil
}

// macState is a reusable HMAC.
type macState struct{ h hash.Hash }
