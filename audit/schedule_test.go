package audit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// Checkpoints come by themselves every CheckpointEvery events.
func TestScheduledCheckpoints(t *testing.T) {
	s := openStore(t, stores[0].dsn(t))
	sig := newSigner(t)
	l, err := audit.New(audit.Config{Store: s, Signer: sig, ContextSecret: secret,
		CheckpointEvery: 10, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	record(t, l, 0, 25)
	for l.Status().Checkpoint.Seq < 20 { // the checkpointer runs in the background
		time.Sleep(5 * time.Millisecond)
	}
	st := l.Status()
	if st.Head.Seq != 25 || st.Err != nil {
		t.Fatalf("status %+v", st)
	}
	if r := verify(t, s, verifier(t, sig)); !r.OK() || r.Protected < 20 {
		t.Fatalf("report %+v", r)
	}
}

type failingSigner struct{ *ecSigner }

func (failingSigner) Sign(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("HSM unreachable")
}

// A failing audit key does not fail Record, but is reported through
// OnError and Status, and events stay unprotected.
func TestCheckpointFailureReported(t *testing.T) {
	s := openStore(t, stores[0].dsn(t))
	sig := failingSigner{newSigner(t)}
	errs := make(chan error, 10)
	l, err := audit.New(audit.Config{Store: s, Signer: sig, ContextSecret: secret,
		CheckpointEvery: 5, CheckpointInterval: time.Hour,
		OnError: func(err error) {
			select {
			case errs <- err:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	record(t, l, 0, 6)
	if err := <-errs; err == nil {
		t.Fatal("OnError called with nil")
	}
	if st := l.Status(); st.Err == nil || st.Checkpoint.Seq != 0 {
		t.Fatalf("status %+v; want the error and no checkpoint", st)
	}
	if err := l.Close(context.Background()); err == nil {
		t.Fatal("Close reported no error although its final checkpoint failed")
	}
	if r := verify(t, s, verifier(t, sig)); !r.OK() || r.Unprotected != 6 {
		t.Fatalf("report %+v", r)
	}
}

// readCounter counts the records a log reads back, and can run a hook when
// the checkpointer asks for the newest checkpoint (after it has read the
// head it will sign).
type readCounter struct {
	audit.Store
	reads  int
	onSign func()
}

func (s *readCounter) Records(ctx context.Context, q audit.Query) ([]audit.Record, error) {
	recs, err := s.Store.Records(ctx, q)
	s.reads += len(recs)
	return recs, err
}

func (s *readCounter) LastCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	if f := s.onSign; f != nil {
		s.onSign = nil
		f()
	}
	return s.Store.LastCheckpoint(ctx)
}

// Once a checkpoint has verified another writer's events, the log trusts
// its own run again, even if it committed more while that checkpoint was
// being made: later checkpoints sign what it wrote without reading it back.
// (The run used to stay anchored before the checkpoint, so every later
// checkpoint read back the thousand events since the one before.)
func TestCheckpointTrustsOwnRunAfterVerifying(t *testing.T) {
	inner := openStore(t, stores[0].dsn(t))
	s := &readCounter{Store: inner}
	sig := newSigner(t)
	l := newLog(t, s, sig, "r")
	other := newLog(t, inner, sig, "other")
	record(t, l, 0, 5)
	record(t, other, 5, 3) // the run restarts after these
	record(t, l, 8, 5)
	s.onSign = func() { record(t, l, 13, 2) } // committed while the checkpoint is made
	checkpoint(t, l)
	if s.reads == 0 {
		t.Fatal("the first checkpoint read nothing back, though another writer wrote")
	}
	record(t, l, 15, 20)
	s.reads = 0
	checkpoint(t, l)
	if s.reads != 0 {
		t.Fatalf("a checkpoint of the log's own run read %d records back", s.reads)
	}
	if r := verify(t, inner, verifier(t, sig)); !r.OK() || r.Unprotected != 0 || r.Head.Seq != 35 {
		t.Fatalf("report %+v (first problem %v)", r, r.First())
	}
}
