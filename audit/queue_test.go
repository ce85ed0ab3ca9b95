package audit_test

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
)

// slowStore holds every Append until the test lets it go: a disk or a
// database that has slowed to a stop.
type slowStore struct {
	audit.Store
	gate chan struct{}
}

func (s *slowStore) Append(ctx context.Context, build func(audit.Head) ([]audit.Record, error)) (audit.Head, error) {
	<-s.gate
	return s.Store.Append(ctx, build)
}

// When commits stall, the writer's queue holds MaxPending events; the next
// Record is refused at once (Unavailable, IsSaturated) instead of waiting
// in memory; once commits resume, every queued event is durable and the
// queue takes events again.
func TestQueueBoundedWhileCommitsStall(t *testing.T) {
	ctx := context.Background()
	store := &slowStore{Store: openStore(t, filepath.Join(t.TempDir(), "audit.db")), gate: make(chan struct{})}
	sig := newSigner(t)
	l, err := audit.New(audit.Config{Store: store, Signer: sig, ContextSecret: make([]byte, 32), MaxPending: 8})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			errs <- l.Record(ctx, &audit.Event{Kind: audit.KindCall, Action: "kms:Sign", Result: audit.ResultOK})
		}()
	}
	for !l.Saturated() {
		runtime.Gosched() // the eight take their places
	}
	err = l.Record(ctx, &audit.Event{Kind: audit.KindCall, Action: "kms:Sign", Result: audit.ResultOK})
	if kgerr.KindOf(err) != kgerr.Unavailable || !audit.IsSaturated(err) {
		t.Fatalf("Record beyond the queue: %v, want Unavailable saturated", err)
	}
	close(store.gate)
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatalf("queued Record: %v", err)
		}
	}
	if l.Saturated() {
		t.Fatal("queue still full after the commits")
	}
	if err := l.Record(ctx, &audit.Event{Kind: audit.KindCall, Action: "kms:Sign", Result: audit.ResultOK}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := audit.Verify(ctx, store, verifier(t, sig))
	if err != nil || !r.OK() || r.Events != 9 {
		t.Fatalf("verify: %+v %v", r, err)
	}
}
