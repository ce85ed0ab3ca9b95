package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// checkpointer signs a checkpoint when the writer says enough events have
// passed, and on every CheckpointInterval tick if the chain moved.
func (l *Log) checkpointer() {
	defer l.stopped.Done()
	t := time.NewTicker(l.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-l.cpWake:
		case <-t.C:
		case <-l.stop:
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.cfg.WriteTimeout)
		_, err := l.Checkpoint(ctx)
		cancel()
		l.mu.Lock()
		l.cpErr = err
		l.mu.Unlock()
		if err != nil && l.cfg.OnError != nil {
			l.cfg.OnError(err)
		}
	}
}

// Checkpoint signs and stores a checkpoint of the chain head, chained onto
// the newest stored checkpoint, and publishes it to the witnesses. It
// never vouches for links it has not checked: if this log extended the
// chain without interruption since the last checkpoint it trusts, it signs
// its own latest head, whose every link it made inside the transaction
// that held the head lock; otherwise (another replica wrote, or the
// process restarted) it reads the chain from the last valid checkpoint to
// the store's head and verifies it first. A broken chain is an error
// naming the first problem, and nothing is signed. With nothing new to
// vouch for (an empty chain, or a checkpoint of the head younger than half
// the interval exists, perhaps made by another replica) it returns the
// zero Checkpoint. An idle log still signs its unchanged head once per
// interval, so the newest checkpoint's age shows the log is alive.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	l.mu.Lock()
	own := l.own
	l.mu.Unlock()
	if own.from == l.trusted && own.to.Seq > own.from.Seq {
		return l.sign(ctx, own.to, own.from)
	}
	base, head, err := l.cfg.Store.Bounds(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if head.Seq == 0 {
		return Checkpoint{}, nil
	}
	if head != l.trusted {
		from := l.trusted
		if from.Seq == 0 || from.Seq < base.Seq {
			if from, err = l.lastValid(ctx, base, head); err != nil {
				return Checkpoint{}, err
			}
		}
		if err := l.verifyRange(ctx, from, head); err != nil {
			return Checkpoint{}, err
		}
	}
	return l.sign(ctx, head, head)
}

// sign signs and stores a checkpoint of head chained onto the newest
// stored one, publishes it, and trusts head (see trust for runFrom). A
// race with another replica's checkpoint is retried from the new newest.
func (l *Log) sign(ctx context.Context, head, runFrom Head) (Checkpoint, error) {
	for attempt := 1; ; attempt++ {
		last, err := l.cfg.Store.LastCheckpoint(ctx)
		if err != nil {
			return Checkpoint{}, err
		}
		// One not signed by this log's key (made before a key rotation,
		// or forged: Verify says which) is chained onto but vouches for
		// nothing here.
		valid := last.Counter == 0 || l.verifier.Check(&last)
		switch {
		case !valid:
		case last.Seq > head.Seq:
			return Checkpoint{}, nil // another replica already vouches for more
		case last.Seq == head.Seq && last.Head != head.Hash:
			return Checkpoint{}, fmt.Errorf("audit: refusing to sign a checkpoint: checkpoint #%d vouches for another event %d than the chain holds", last.Counter, head.Seq)
		case last.Seq == head.Seq && l.cfg.Now().Sub(last.Time) < l.cfg.CheckpointInterval/2:
			l.trust(head, runFrom)
			return Checkpoint{}, nil
		}
		c, err := signCheckpoint(ctx, l.cfg.Signer, l.keyID, &last, head, l.cfg.Now())
		if err != nil {
			return Checkpoint{}, err
		}
		err = l.cfg.Store.AddCheckpoint(ctx, c)
		if errors.Is(err, ErrCheckpointRace) && attempt < 5 {
			continue
		}
		if err != nil {
			return Checkpoint{}, err
		}
		l.trust(head, runFrom)
		return c, l.publish(ctx, c)
	}
}

// trust makes head the point the next checkpoint starts from. If head lies
// on this log's own run, the run restarts there, so the next checkpoint
// signs what this log wrote after head without reading it back. head lies
// on the run if it is the run's end; or if it falls inside the run and
// either the run still starts at runFrom (the start the signer saw), or
// head was read from the store and verified (runFrom == head): the store's
// event at that seq is then the one this log wrote there. Without the last
// case a run that began before the verified head (at every start, after
// another writer's events) stayed anchored there, and every later
// checkpoint read back the events since the one before.
func (l *Log) trust(head, runFrom Head) {
	l.trusted = head
	l.mu.Lock()
	l.signed = head
	inside := l.own.from.Seq < head.Seq && head.Seq <= l.own.to.Seq
	if l.own.to == head || inside && (l.own.from == runFrom || runFrom == head) {
		l.own.from = head
	}
	l.mu.Unlock()
}

// lastValid is the newest validly signed checkpoint in the store, or the
// base when there is none (a fresh log, or the first start of this
// process: the whole stored chain is then walked once).
func (l *Log) lastValid(ctx context.Context, base, head Head) (Head, error) {
	cps, err := l.cfg.Store.Checkpoints(ctx, base.Seq, head.Seq)
	if err != nil {
		return Head{}, err
	}
	for i := len(cps) - 1; i >= 0; i-- {
		if l.verifier.Check(&cps[i]) {
			return Head{Seq: cps[i].Seq, Hash: cps[i].Head}, nil
		}
	}
	return base, nil
}

// verifyRange walks the records after from up to head and checks that they
// chain from from and end at head.
func (l *Log) verifyRange(ctx context.Context, from, head Head) error {
	c := newChainCheck(from, nil) // links and hashes only: Verify checks the rest
	q := Query{AfterSeq: from.Seq, Limit: MaxLimit, LinksOnly: true}
	for q.AfterSeq < head.Seq {
		recs, err := l.cfg.Store.Records(ctx, q)
		if err != nil {
			return err
		}
		for i := range recs {
			if recs[i].Seq <= head.Seq {
				c.add(&recs[i])
			}
		}
		if len(recs) < q.Limit {
			break
		}
		q.AfterSeq = recs[len(recs)-1].Seq
	}
	if len(c.problems) > 0 {
		return fmt.Errorf("audit: refusing to sign a checkpoint: chain broken at %s", c.problems[0])
	}
	if c.last != head {
		return fmt.Errorf("audit: refusing to sign a checkpoint: the chain from seq %d does not reach the head %d", from.Seq, head.Seq)
	}
	return nil
}

// Status is what a health check or metrics exporter wants to know.
type Status struct {
	Head       Head  // last head this log committed
	Checkpoint Head  // last head this log signed or found signed
	Err        error // the last scheduled checkpoint's failure, nil once one succeeds
}

// Status reports the log's progress. Head.Seq - Checkpoint.Seq growing
// past CheckpointEvery, or Err set, means events are going unprotected.
func (l *Log) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Status{Head: l.head, Checkpoint: l.signed, Err: l.cpErr}
}

// KeyID is the id of the checkpoint signing key.
func (l *Log) KeyID() string { return l.keyID }
