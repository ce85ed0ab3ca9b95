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
