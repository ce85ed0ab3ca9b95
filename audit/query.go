package audit

import (
	"context"
	"fmt"
	"time"
)

// Events runs q against s and decodes the records. A record that does not
// decode is an error naming its seq (run Verify to see why).
func Events(ctx context.Context, s Store, q Query) ([]*Event, error) {
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	q.Limit = min(q.Limit, MaxLimit)
	recs, err := s.Records(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]*Event, len(recs))
	for i := range recs {
		e, err := Decode(recs[i].Body)
		if err != nil {
			return nil, fmt.Errorf("audit: event %d: %w", recs[i].Seq, err)
		}
		out[i] = e
	}
	return out, nil
}

// Events queries the log's store.
func (l *Log) Events(ctx context.Context, q Query) ([]*Event, error) {
	return Events(ctx, l.cfg.Store, q)
}

// Follow calls fn with every event matching q (q.Desc is ignored) in seq
// order, starting after q.AfterSeq, and then with each new one as it is
// committed, until ctx ends or fn fails. Events committed by this log wake
// it at once; events from other replicas sharing the store are found by
// polling every poll interval (default 1s).
func (l *Log) Follow(ctx context.Context, q Query, poll time.Duration, fn func(*Event) error) error {
	if poll <= 0 {
		poll = time.Second
	}
	q.Desc = false
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		l.mu.Lock()
		changed := l.change
		l.mu.Unlock()
		evs, err := Events(ctx, l.cfg.Store, q)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		for _, e := range evs {
			if err := fn(e); err != nil {
				return err
			}
			q.AfterSeq = e.Seq
		}
		if len(evs) == q.Limit {
			continue // more waiting
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-t.C:
		}
	}
}
