package audit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
)

// Concurrent callers on both stores: every event is stored once, in one
// chain that verifies, with its fields intact.
func TestRecordConcurrentAndVerify(t *testing.T) {
	for _, b := range stores {
		t.Run(b.name, func(t *testing.T) {
			s := openStore(t, b.dsn(t))
			sig := newSigner(t)
			l := newLog(t, s, sig, "replica-a")
			var wg sync.WaitGroup
			var mu sync.Mutex
			sent := map[string]*audit.Event{}
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 25 {
						e := callEvent(l, w*100+i)
						if err := l.Record(context.Background(), e); err != nil {
							t.Error(err)
							return
						}
						if e.Seq == 0 || e.Hash == ([32]byte{}) {
							t.Errorf("Record returned without setting Seq and Hash: %+v", e)
						}
						mu.Lock()
						sent[e.BackendRequestID] = e
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			r := verify(t, s, verifier(t, sig))
			if !r.OK() || r.Events != 200 || r.Head.Seq != 200 || r.Unprotected != 0 || r.Protected != 200 {
				t.Fatalf("report %+v; want 200 events, all protected, no problems", r)
			}
			evs, err := audit.Events(context.Background(), s, audit.Query{Limit: 1000})
			if err != nil || len(evs) != 200 {
				t.Fatalf("Events: %d, %v", len(evs), err)
			}
			for _, got := range evs {
				want := sent[got.BackendRequestID]
				if want == nil || !got.Time.Equal(want.Time) {
					t.Fatalf("stored event %d matches nothing sent", got.Seq)
				}
				got.Time = want.Time // monotonic clock reading and location differ
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("stored event differs from the one recorded:\n got %+v\nwant %+v", got, want)
				}
				if got.Replica != "replica-a" || len(got.Context) != 2 || got.Context[0].Key != "acsTransID" {
					t.Fatalf("defaults or context not kept: %+v", got)
				}
			}
		})
	}
}

// The encryption context values never reach the store.
func TestContextValuesNotStored(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, filepath.Join(dir, "audit.db"))
	l := newLog(t, s, newSigner(t), "r")
	e := callEvent(l, 1)
	e.Context = l.HashContext(map[string]string{"pan": "4111111111111111"})
	if err := l.Record(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	l.Close(context.Background())
	s.Close()
	for _, f := range []string{"audit.db", "audit.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("4111111111111111")) {
			t.Fatalf("%s holds the encryption context value in clear", f)
		}
		if f == "audit.db" && !bytes.Contains(b, []byte("pan")) {
			t.Fatalf("%s does not hold the context key: the test looks in the wrong place", f)
		}
	}
}

// When the store cannot be written, Record fails with Unavailable.
func TestRecordFailsClosed(t *testing.T) {
	for _, b := range stores {
		t.Run(b.name+"/closed", func(t *testing.T) {
			s := openStore(t, b.dsn(t))
			l := newLog(t, s, newSigner(t), "r")
			record(t, l, 0, 3)
			s.Close()
			err := l.Record(context.Background(), callEvent(l, 3))
			if kgerr.KindOf(err) != kgerr.Unavailable {
				t.Fatalf("Record on a closed store: %v (kind %v), want Unavailable", err, kgerr.KindOf(err))
			}
		})
		t.Run(b.name+"/table dropped", func(t *testing.T) {
			dsn := b.dsn(t)
			s := openStore(t, dsn)
			l := newLog(t, s, newSigner(t), "r")
			record(t, l, 0, 3)
			exec(t, s, isPostgres(dsn), "DROP TABLE audit_events")
			err := l.Record(context.Background(), callEvent(l, 3))
			if kgerr.KindOf(err) != kgerr.Unavailable {
				t.Fatalf("Record with the table gone: %v (kind %v), want Unavailable", err, kgerr.KindOf(err))
			}
		})
	}
}

func TestRecordRejectsBadEvents(t *testing.T) {
	s := openStore(t, stores[0].dsn(t))
	l := newLog(t, s, newSigner(t), "r")
	e := callEvent(l, 1)
	e.Context[0], e.Context[1] = e.Context[1], e.Context[0]
	if kgerr.KindOf(l.Record(context.Background(), e)) != kgerr.InvalidArgument {
		t.Error("Record accepted an unsorted context")
	}
	if kgerr.KindOf(l.Record(context.Background(), &audit.Event{})) != kgerr.InvalidArgument {
		t.Error("Record accepted an event with no kind")
	}
	e = callEvent(l, 2)
	e.Error = string(make([]byte, audit.MaxEventSize))
	if kgerr.KindOf(l.Record(context.Background(), e)) != kgerr.InvalidArgument {
		t.Error("Record accepted an event over MaxEventSize")
	}
	l.Close(context.Background())
	if kgerr.KindOf(l.Record(context.Background(), callEvent(l, 3))) != kgerr.Unavailable {
		t.Error("Record after Close did not fail Unavailable")
	}
}

// Two replicas (two Logs, two connections) on one PostgreSQL write one
// chain that verifies and holds every event of both.
func TestTwoWritersOnePostgres(t *testing.T) {
	dsn := stores[1].dsn(t)
	sig := newSigner(t)
	sa, sb := openStore(t, dsn), openStore(t, dsn)
	la, lb := newLog(t, sa, sig, "a"), newLog(t, sb, sig, "b")
	var wg sync.WaitGroup
	for w := range 6 {
		l := []*audit.Log{la, lb}[w%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				if err := l.Record(context.Background(), callEvent(l, w*1000+i)); err != nil {
					t.Error(err)
					return
				}
				if i == 15 {
					if _, err := l.Checkpoint(context.Background()); err != nil {
						t.Error(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	la.Close(context.Background())
	lb.Close(context.Background())
	r := verify(t, sa, verifier(t, sig))
	if !r.OK() || r.Events != 180 || r.Unprotected != 0 {
		t.Fatalf("report %+v (first problem %v); want 180 events, no problems", r, r.First())
	}
	per := map[string]int{}
	evs, _ := audit.Events(context.Background(), sb, audit.Query{Limit: 1000})
	for _, e := range evs {
		per[e.Replica]++
	}
	if per["a"] != 90 || per["b"] != 90 {
		t.Fatalf("events per replica %v, want 90 each", per)
	}
}
