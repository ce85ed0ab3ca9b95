package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

func seqs(recs []audit.Record) []uint64 {
	out := make([]uint64, len(recs))
	for i, r := range recs {
		out[i] = r.Seq
	}
	return out
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testQueryFilters(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	appendN(t, s, 2, "k1", "alice", "OK", t0)                            // 1,2
	appendN(t, s, 2, "k2", "bob", "PermissionDenied", t0.Add(time.Hour)) // 3,4
	appendN(t, s, 2, "k1", "bob", "OK", t0.Add(2*time.Hour))             // 5,6
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		q    audit.Query
		want []uint64
	}{
		{"all", audit.Query{}, []uint64{1, 2, 3, 4, 5, 6}},
		{"key", audit.Query{KeyName: "k1"}, []uint64{1, 2, 5, 6}},
		{"principal", audit.Query{Principal: "bob"}, []uint64{3, 4, 5, 6}},
		{"result", audit.Query{Result: "PermissionDenied"}, []uint64{3, 4}},
		{"action", audit.Query{Action: "kms:Decrypt"}, []uint64{}},
		{"kind", audit.Query{Kind: audit.KindCall}, []uint64{1, 2, 3, 4, 5, 6}},
		{"kinds", audit.Query{Kinds: []audit.Kind{audit.KindPolicyChanged, audit.KindCall}}, []uint64{1, 2, 3, 4, 5, 6}},
		{"kinds, none present", audit.Query{Kinds: []audit.Kind{audit.KindPolicyChanged, audit.KindKeyCreated}}, []uint64{}},
		{"results", audit.Query{Results: []string{"PermissionDenied", "NotFound"}}, []uint64{3, 4}},
		{"results and key", audit.Query{Results: []string{"OK", "PermissionDenied"}, KeyName: "k2"}, []uint64{3, 4}},
		{"since", audit.Query{Since: t0.Add(time.Hour)}, []uint64{3, 4, 5, 6}},
		{"until", audit.Query{Until: t0.Add(time.Hour)}, []uint64{1, 2}},
		{"window", audit.Query{Since: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)}, []uint64{3, 4}},
		{"combined", audit.Query{KeyName: "k1", Principal: "bob"}, []uint64{5, 6}},
		{"page", audit.Query{AfterSeq: 2, Limit: 3}, []uint64{3, 4, 5}},
		{"page filtered", audit.Query{KeyName: "k1", AfterSeq: 2, Limit: 1}, []uint64{5}},
		{"through", audit.Query{ThroughSeq: 4}, []uint64{1, 2, 3, 4}},
		{"page through", audit.Query{AfterSeq: 2, ThroughSeq: 4, Limit: 5}, []uint64{3, 4}},
		{"page through filtered", audit.Query{KeyName: "k1", AfterSeq: 1, ThroughSeq: 5}, []uint64{2, 5}},
		{"desc through", audit.Query{Desc: true, ThroughSeq: 5, Limit: 2}, []uint64{5, 4}},
		{"desc", audit.Query{Desc: true, Limit: 2}, []uint64{6, 5}},
		{"desc page", audit.Query{Desc: true, AfterSeq: 5, Limit: 2}, []uint64{4, 3}},
	} {
		recs, err := s.Records(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := seqs(recs); !equal(got, tc.want) {
			t.Errorf("%s: got seqs %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testCheckpoints(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	ctx := context.Background()
	h := appendN(t, s, 5, "k", "p", "OK", time.Now())
	at := time.Date(2026, 3, 1, 0, 0, 0, 7, time.UTC)
	in := []audit.Checkpoint{
		{Seq: 5, Head: h.Hash, Time: at, KeyID: "kid", Signature: []byte{1, 2, 3}},
		{Seq: 2, Head: [32]byte{9}, Time: at, KeyID: "kid", Signature: []byte{4}},
		{Seq: 5, Head: h.Hash, Time: at.Add(time.Second), KeyID: "other", Signature: []byte{5}},
	}
	for _, c := range in {
		if err := s.AddCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Checkpoints(ctx, 0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Seq != 2 || got[1].KeyID != "kid" || got[2].KeyID != "other" {
		t.Fatalf("checkpoints not in seq, time order: %+v", got)
	}
	c := got[1]
	if c.Head != h.Hash || !c.Time.Equal(at) || string(c.Signature) != "\x01\x02\x03" {
		t.Fatalf("checkpoint not kept exactly: %+v", c)
	}
	if got, _ := s.Checkpoints(ctx, 3, 5); len(got) != 2 {
		t.Fatalf("Checkpoints(3,5) returned %d, want 2", len(got))
	}
}

// testCheckpointChain: a chained checkpoint is stored only after its
// predecessor, the newest is LastCheckpoint, and a second #n (another
// replica's) is refused with ErrCheckpointRace.
func testCheckpointChain(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	ctx := context.Background()
	if c, err := s.LastCheckpoint(ctx); err != nil || c.Counter != 0 {
		t.Fatalf("empty store: LastCheckpoint = #%d, %v", c.Counter, err)
	}
	h := appendN(t, s, 3, "k", "p", "OK", time.Now())
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	legacy := audit.Checkpoint{Seq: 1, Head: [32]byte{1}, Time: at, KeyID: "kid", Signature: []byte{1}}
	first := audit.Checkpoint{Counter: 1, Seq: 2, Head: [32]byte{2}, Time: at, KeyID: "kid", Signature: []byte{2}}
	second := audit.Checkpoint{Counter: 2, Prev: first.Hash(), Seq: 3, Head: h.Hash, Time: at, KeyID: "kid", Signature: []byte{3}}
	if err := s.AddCheckpoint(ctx, second); !errors.Is(err, audit.ErrCheckpointRace) {
		t.Fatalf("#2 before #1: %v, want ErrCheckpointRace", err)
	}
	for _, c := range []audit.Checkpoint{legacy, first, second} {
		if err := s.AddCheckpoint(ctx, c); err != nil {
			t.Fatalf("AddCheckpoint #%d: %v", c.Counter, err)
		}
	}
	if err := s.AddCheckpoint(ctx, second); !errors.Is(err, audit.ErrCheckpointRace) {
		t.Fatalf("a second #2: %v, want ErrCheckpointRace", err)
	}
	got, err := s.LastCheckpoint(ctx)
	if err != nil || got.Hash() != second.Hash() || string(got.Signature) != "\x03" {
		t.Fatalf("LastCheckpoint = %+v, %v; want #2 exactly", got, err)
	}
	all, err := s.Checkpoints(ctx, 0, 1<<62)
	if err != nil || len(all) != 3 || all[0].Counter != 0 || all[1].Prev != [32]byte{} || all[2].Prev != first.Hash() {
		t.Fatalf("Checkpoints = %+v, %v", all, err)
	}
}

func testPrune(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	ctx := context.Background()
	appendN(t, s, 4, "k", "p", "OK", time.Now())
	recs := all(t, s)
	at4 := audit.Head{Seq: 4, Hash: recs[3].Hash}
	at2 := audit.Head{Seq: 2, Hash: recs[1].Hash}
	appendN(t, s, 3, "k", "p", "OK", time.Now())
	for _, c := range []audit.Checkpoint{{Seq: 2, Head: at2.Hash}, {Seq: 4, Head: at4.Hash}} {
		c.Time, c.KeyID, c.Signature = time.Now(), "kid", []byte{1}
		if err := s.AddCheckpoint(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Prune(ctx, audit.Head{Seq: 3, Hash: recs[2].Hash}); err == nil {
		t.Error("Prune accepted a seq with no checkpoint")
	}
	if err := s.Prune(ctx, audit.Head{Seq: 4, Hash: recs[2].Hash}); err == nil {
		t.Error("Prune accepted a hash that is not the stored event's")
	}
	if err := s.Prune(ctx, audit.Head{Seq: 99, Hash: at4.Hash}); err == nil {
		t.Error("Prune accepted a seq past the head")
	}
	if err := s.Prune(ctx, at4); err != nil {
		t.Fatalf("Prune: %v", err)
	}
	base, head, err := s.Bounds(ctx)
	if err != nil || base != at4 || head.Seq != 7 {
		t.Fatalf("after prune: base %v head %v err %v", base, head, err)
	}
	if got := seqs(all(t, s)); !equal(got, []uint64{5, 6, 7}) {
		t.Fatalf("after prune the store holds %v, want [5 6 7]", got)
	}
	cps, _ := s.Checkpoints(ctx, 0, 1<<62)
	if len(cps) != 1 || cps[0].Seq != 4 {
		t.Fatalf("after prune checkpoints %+v, want only the anchor at 4", cps)
	}
	if err := s.Prune(ctx, at2); err == nil {
		t.Error("Prune accepted a seq below the base")
	}
	if h := appendN(t, s, 1, "k", "p", "OK", time.Now()); h.Seq != 8 {
		t.Fatalf("append after prune: head %d, want 8", h.Seq)
	}
}
