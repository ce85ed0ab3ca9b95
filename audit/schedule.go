package audit

import (
	"context"
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
		if _, err := l.Checkpoint(ctx); err != nil && l.cfg.OnError != nil {
			l.cfg.OnError(err)
		}
		cancel()
	}
}

// Checkpoint signs and stores a checkpoint of the store's current head,
// unless the chain is empty or a checkpoint of that head already exists
// (another replica may have made it). It returns the checkpoint made, or
// the zero Checkpoint if none was needed.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	_, head, err := l.cfg.Store.Bounds(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if head.Seq == 0 {
		return Checkpoint{}, nil
	}
	have, err := l.cfg.Store.Checkpoints(ctx, head.Seq, head.Seq)
	if err != nil {
		return Checkpoint{}, err
	}
	for _, c := range have {
		if c.Head == head.Hash && c.KeyID == l.keyID {
			return Checkpoint{}, nil
		}
	}
	c, err := signCheckpoint(ctx, l.cfg.Signer, l.keyID, head, l.cfg.Now())
	if err != nil {
		return Checkpoint{}, err
	}
	return c, l.cfg.Store.AddCheckpoint(ctx, c)
}

// KeyID is the id of the checkpoint signing key.
func (l *Log) KeyID() string { return l.keyID }
