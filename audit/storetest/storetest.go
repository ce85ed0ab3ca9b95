// Package storetest is the one conformance suite for audit.Store
// implementations. A store's tests call Run with a function that makes a
// fresh, empty database and returns an opener for it, so the suite can open
// two handles on one database, as two replicas would.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// NewDB makes a fresh database for t and returns a function that opens a
// new handle on it (closed by the suite).
type NewDB func(t *testing.T) (open func(t *testing.T) audit.Store)

// Run runs the suite.
func Run(t *testing.T, newDB NewDB) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T) audit.Store)
	}{
		{"EmptyBounds", testEmptyBounds},
		{"AppendAndRead", testAppendAndRead},
		{"AppendRejectsBadSeq", testAppendRejectsBadSeq},
		{"LinkErrorRollsBack", testLinkErrorRollsBack},
		{"LargeBatch", testLargeBatch},
		{"ConcurrentWriters", testConcurrentWriters},
		{"QueryFilters", testQueryFilters},
		{"Checkpoints", testCheckpoints},
		{"CheckpointChain", testCheckpointChain},
		{"Prune", testPrune},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newDB(t)) })
	}
}

func opened(t *testing.T, open func(*testing.T) audit.Store) audit.Store {
	s := open(t)
	t.Cleanup(func() { s.Close() })
	return s
}

// rec builds a record continuing head; its body is a stand-in that the
// store must keep byte for byte (stores do not interpret bodies).
func rec(head audit.Head, i int, key, principal, result string, at time.Time) audit.Record {
	body := fmt.Appendf(nil, "body %d %x", head.Seq+1, head.Hash[:4])
	return audit.Record{Seq: head.Seq + 1, TimeNs: at.UnixNano(), Kind: audit.KindCall, Principal: principal,
		Action: "kms:Sign", KeyName: key, Result: result, Hash: sha256.Sum256(body), Body: body}
}

// appendN appends n records through link, as a Log would.
func appendN(t *testing.T, s audit.Store, n int, key, principal, result string, at time.Time) audit.Head {
	t.Helper()
	h, err := tryAppend(s, n, key, principal, result, at)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return h
}

func tryAppend(s audit.Store, n int, key, principal, result string, at time.Time) (audit.Head, error) {
	return s.Append(context.Background(), func(head audit.Head) ([]audit.Record, error) {
		out := make([]audit.Record, n)
		for i := range out {
			out[i] = rec(head, i, key, principal, result, at.Add(time.Duration(i)))
			head = audit.Head{Seq: out[i].Seq, Hash: out[i].Hash}
		}
		return out, nil
	})
}

func all(t *testing.T, s audit.Store) []audit.Record {
	t.Helper()
	var out []audit.Record
	q := audit.Query{Limit: audit.MaxLimit}
	for {
		page, err := s.Records(context.Background(), q)
		if err != nil {
			t.Fatalf("Records: %v", err)
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			return out
		}
		q.AfterSeq = page[len(page)-1].Seq
	}
}

func testEmptyBounds(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	base, head, err := s.Bounds(context.Background())
	if err != nil || base != (audit.Head{}) || head != (audit.Head{}) {
		t.Fatalf("Bounds on an empty store = %v, %v, %v; want zero heads", base, head, err)
	}
	if recs := all(t, s); len(recs) != 0 {
		t.Fatalf("empty store has %d records", len(recs))
	}
}

func testAppendAndRead(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	h1 := appendN(t, s, 3, "k1", "p1", "OK", at)
	h2 := appendN(t, s, 2, "k2", "p2", "PermissionDenied", at.Add(time.Hour))
	if h1.Seq != 3 || h2.Seq != 5 {
		t.Fatalf("heads after 3 and 2 records: %d, %d", h1.Seq, h2.Seq)
	}
	_, head, err := s.Bounds(context.Background())
	if err != nil || head != h2 {
		t.Fatalf("Bounds head = %v, %v; want %v", head, err, h2)
	}
	recs := all(t, s)
	if len(recs) != 5 {
		t.Fatalf("got %d records, want 5", len(recs))
	}
	prev := audit.Head{}
	for i, r := range recs {
		want := rec(prev, i, r.KeyName, r.Principal, r.Result, time.Unix(0, r.TimeNs))
		if r.Seq != uint64(i+1) || !bytes.Equal(r.Body, want.Body) || r.Hash != want.Hash {
			t.Fatalf("record %d = seq %d body %q; want seq %d body %q", i, r.Seq, r.Body, i+1, want.Body)
		}
		prev = audit.Head{Seq: r.Seq, Hash: r.Hash}
	}
	links, err := s.Records(context.Background(), audit.Query{LinksOnly: true})
	if err != nil || len(links) != 5 {
		t.Fatalf("Records(LinksOnly): %d records, %v", len(links), err)
	}
	for i := range links {
		if links[i].Seq != recs[i].Seq || links[i].Hash != recs[i].Hash || !bytes.Equal(links[i].Body, recs[i].Body) {
			t.Fatalf("Records(LinksOnly) record %d differs: %+v", i, links[i])
		}
	}
	if recs[0].TimeNs != at.UnixNano() || recs[4].Result != "PermissionDenied" || recs[4].Kind != audit.KindCall {
		t.Fatalf("copied columns not kept: %+v / %+v", recs[0], recs[4])
	}
}

func testAppendRejectsBadSeq(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	appendN(t, s, 2, "k", "p", "OK", time.Now())
	_, err := s.Append(context.Background(), func(head audit.Head) ([]audit.Record, error) {
		r := rec(head, 0, "k", "p", "OK", time.Now())
		r.Seq++ // a gap
		return []audit.Record{r}, nil
	})
	if err == nil {
		t.Fatal("Append accepted a record that skips a seq")
	}
	if _, head, _ := s.Bounds(context.Background()); head.Seq != 2 {
		t.Fatalf("head moved to %d after a rejected append", head.Seq)
	}
}

func testLinkErrorRollsBack(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	boom := fmt.Errorf("link failed")
	if _, err := s.Append(context.Background(), func(audit.Head) ([]audit.Record, error) { return nil, boom }); err != boom {
		t.Fatalf("Append returned %v, want the link error", err)
	}
	appendN(t, s, 1, "k", "p", "OK", time.Now()) // the head lock was released
}

func testLargeBatch(t *testing.T, open func(*testing.T) audit.Store) {
	s := opened(t, open)
	h := appendN(t, s, 1203, "k", "p", "OK", time.Now()) // more than one INSERT's worth
	if h.Seq != 1203 || len(all(t, s)) != 1203 {
		t.Fatalf("large batch: head %d", h.Seq)
	}
}

// Two handles (two replicas) append concurrently: one gapless chain.
func testConcurrentWriters(t *testing.T, open func(*testing.T) audit.Store) {
	a, b := opened(t, open), opened(t, open)
	var wg sync.WaitGroup
	for w, s := range []audit.Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := tryAppend(s, 3, fmt.Sprintf("k%d", w), "p", "OK", time.Now()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	recs := all(t, a)
	if len(recs) != 240 {
		t.Fatalf("got %d records, want 240", len(recs))
	}
	prev := audit.Head{}
	for _, r := range recs {
		if want := rec(prev, 0, "", "", "", time.Time{}); r.Seq != want.Seq || !bytes.Equal(r.Body, want.Body) {
			t.Fatalf("record %d does not continue record %d: the chain forked", r.Seq, prev.Seq)
		}
		prev = audit.Head{Seq: r.Seq, Hash: r.Hash}
	}
}
