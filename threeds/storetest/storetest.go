// Package storetest is the contract every threeds.SessionStore must meet:
// run Run from a store's own tests (the SQL store runs it against SQLite
// and PostgreSQL, the memory store against itself).
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/threeds"
)

// Run checks a store made fresh by newStore.
func Run(t *testing.T, newStore func(t *testing.T) threeds.SessionStore) {
	ctx := context.Background()
	now := time.Unix(1800000000, 0).UTC()
	rec := func(id string, exp time.Time) threeds.SessionRecord {
		return threeds.SessionRecord{ID: id, SealKeyID: "key-1", Sealed: []byte("sealed-" + id), Expiry: exp}
	}

	t.Run("CreateGet", func(t *testing.T) {
		s := newStore(t)
		r := rec("a", now.Add(time.Minute))
		r.Counters = threeds.Counters{SDKCounterStoA: 1, ACSCounterAtoS: 2}
		r.CountersMAC = []byte("mac-0")
		if err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "a")
		if err != nil || got.ID != "a" || got.SealKeyID != "key-1" || string(got.Sealed) != "sealed-a" ||
			got.Counters != r.Counters || string(got.CountersMAC) != "mac-0" || !got.Expiry.Equal(r.Expiry) {
			t.Fatalf("Get = %+v, %v", got, err)
		}
		if err := s.Create(ctx, r); kgerr.KindOf(err) != kgerr.AlreadyExists {
			t.Fatalf("second Create: %v, want AlreadyExists", err)
		}
		if _, err := s.Get(ctx, "missing"); kgerr.KindOf(err) != kgerr.NotFound {
			t.Fatalf("Get missing: %v, want NotFound", err)
		}
	})

	t.Run("CompareAndSwap", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, rec("a", now.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		zero, one := threeds.Counters{}, threeds.Counters{SDKCounterStoA: 1}
		if err := s.Update(ctx, "a", zero, one, []byte("mac-1")); err != nil {
			t.Fatal(err)
		}
		if err := s.Update(ctx, "a", zero, one, []byte("mac-1")); !errors.Is(err, threeds.ErrCountersChanged) {
			t.Fatalf("stale Update: %v, want ErrCountersChanged", err)
		}
		if got, _ := s.Get(ctx, "a"); got.Counters != one || string(got.CountersMAC) != "mac-1" {
			t.Fatalf("counters = %+v, MAC %q", got.Counters, got.CountersMAC)
		}
		if err := s.Update(ctx, "missing", zero, one, nil); kgerr.KindOf(err) != kgerr.NotFound {
			t.Fatalf("Update missing: %v, want NotFound", err)
		}
	})

	t.Run("ConcurrentUpdateOneWins", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, rec("a", now.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]error, 8)
		for i := range results {
			wg.Go(func() {
				results[i] = s.Update(ctx, "a", threeds.Counters{}, threeds.Counters{SDKCounterStoA: 1, ACSCounterAtoS: i}, nil)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range results {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, threeds.ErrCountersChanged):
				t.Fatalf("loser: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent updates won", won)
		}
	})

	t.Run("DeleteExpired", func(t *testing.T) {
		s := newStore(t)
		for id, exp := range map[string]time.Time{"old": now.Add(-time.Second), "edge": now, "live": now.Add(time.Second)} {
			if err := s.Create(ctx, rec(id, exp)); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.DeleteExpired(ctx, now)
		if err != nil || n != 2 {
			t.Fatalf("DeleteExpired = %d, %v; want 2", n, err)
		}
		if _, err := s.Get(ctx, "live"); err != nil {
			t.Fatalf("live record gone: %v", err)
		}
		if _, err := s.Get(ctx, "edge"); kgerr.KindOf(err) != kgerr.NotFound {
			t.Fatalf("record expiring now kept: %v", err)
		}
	})
}
