package audit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Report is the outcome of a verification.
type Report struct {
	Base        Head   // where the verified chain starts (non-zero after pruning)
	Head        Head   // the last event verified, with its recomputed hash
	Events      uint64 // records read
	Checkpoints int    // checkpoints read
	// Protected is the highest seq covered by a valid checkpoint that
	// matches the chain; the events after it are Unprotected: nothing but
	// the next checkpoint vouches for them, and a cut there is invisible.
	Protected   uint64
	Unprotected uint64
	// UnprotectedSince is the time of the first unprotected event. Much
	// older than the checkpoint interval means checkpoints are failing, or
	// someone removed them.
	UnprotectedSince time.Time
	// Problems in seq order; Problems[0] is the first broken place.
	Problems []Problem
}

// OK reports whether nothing is wrong (unprotected events are not wrong).
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// First is the first broken place, or nil.
func (r *Report) First() *Problem {
	if len(r.Problems) == 0 {
		return nil
	}
	return &r.Problems[0]
}

// finish checks the checkpoints against the walked chain and fills r.
func (c *chainCheck) finish(cps []Checkpoint, v *Verifier) *Report {
	r := &Report{Base: c.base, Head: c.last, Events: c.events, Checkpoints: len(cps), Protected: c.base.Seq}
	anchored := c.base.Seq == 0
	for i := range cps {
		cp := &cps[i]
		switch h, seen := c.hashAt[cp.Seq]; {
		case !v.Check(cp):
			c.report(Forged, cp.Seq, "the checkpoint at seq %d (dated %s, naming key %.16s…) has no valid signature by a trusted audit key",
				cp.Seq, cp.Time.Format(time.RFC3339), cp.KeyID)
		case cp.Seq == c.base.Seq && cp.Seq > 0:
			if cp.Head == c.base.Hash {
				anchored = true
			}
		case cp.Seq > c.last.Seq:
			c.report(Cut, c.last.Seq+1, "the chain ends at event %d but a checkpoint vouches for %d events: the tail was cut",
				c.last.Seq, cp.Seq)
		case !seen:
			// The event is missing; the walk already named the gap.
		case h != cp.Head:
			c.report(Rewritten, cp.Seq, "event %d does not match the signed checkpoint: history up to it was rewritten", cp.Seq)
		default:
			r.Protected = max(r.Protected, cp.Seq)
		}
	}
	c.checkCheckpointChain(cps, v)
	if !anchored {
		c.report(Unanchored, c.base.Seq, "no signed checkpoint vouches for the base at seq %d", c.base.Seq)
	}
	if c.last.Seq > r.Protected {
		r.Unprotected = c.last.Seq - r.Protected
	}
	slices.SortStableFunc(c.problems, func(a, b Problem) int {
		switch {
		case a.Seq < b.Seq:
			return -1
		case a.Seq > b.Seq:
			return 1
		}
		return 0
	})
	r.Problems = c.problems
	return r
}

// Verify checks the whole chain in s against the checkpoint key: every
// event's hash and link, the stored copies of queryable fields, every
// checkpoint's signature and head, the checkpoint chain, the base left by
// pruning, and that the chain reaches the store's head and every
// checkpoint. It reads the store page by page, so memory stays small.
func Verify(ctx context.Context, s Store, v *Verifier) (*Report, error) {
	return VerifyWith(ctx, s, v, VerifyOptions{})
}

// VerifyOptions adds the checks that need more than the store.
type VerifyOptions struct {
	// Witnesses are compared with the store (CheckWitnesses).
	Witnesses []WitnessReader
	// MaxAge, when set, flags a newest checkpoint older than this (the
	// checkpoint interval plus slack) as Stale.
	MaxAge time.Duration
	Now    func() time.Time // default time.Now
}

// VerifyWith is Verify plus the witnesses and the newest checkpoint's age.
func VerifyWith(ctx context.Context, s Store, v *Verifier, o VerifyOptions) (*Report, error) {
	base, head, err := s.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	cps, err := s.Checkpoints(ctx, base.Seq, ^uint64(0)>>1)
	if err != nil {
		return nil, err
	}
	c := newChainCheck(base, cps)
	c.columns = columnsDiffer
	q := Query{AfterSeq: base.Seq, Limit: MaxLimit}
	for {
		recs, err := s.Records(ctx, q)
		if err != nil {
			return nil, err
		}
		for i := range recs {
			c.add(&recs[i])
		}
		if len(recs) < q.Limit {
			break
		}
		q.AfterSeq = recs[len(recs)-1].Seq
	}
	if head.Seq > c.lastStored {
		c.report(Cut, c.lastStored+1, "the store's head is event %d but the chain ends at event %d: the tail was cut",
			head.Seq, c.lastStored)
	}
	problems, err := CheckWitnesses(ctx, s, v, o.Witnesses)
	if err != nil {
		return nil, err
	}
	c.problems = append(c.problems, problems...) // one per witness, even at one seq
	if o.MaxAge > 0 {
		now := time.Now
		if o.Now != nil {
			now = o.Now
		}
		newest := time.Time{}
		for i := range cps {
			if cps[i].Time.After(newest) && v.Check(&cps[i]) {
				newest = cps[i].Time
			}
		}
		what := "the newest valid checkpoint was signed"
		if newest.IsZero() && c.events > 0 {
			// No checkpoint yet: the first event starts the clock.
			first, err := s.Records(ctx, Query{AfterSeq: base.Seq, Limit: 1})
			if err != nil {
				return nil, err
			}
			if len(first) == 1 {
				newest, what = time.Unix(0, first[0].TimeNs), "there is no valid checkpoint; the first event was recorded"
			}
		}
		if age := now().Sub(newest); !newest.IsZero() && age > o.MaxAge {
			c.report(Stale, c.last.Seq, "%s %s ago (%s), more than the %s allowed: checkpoints stopped, or the newest were removed",
				what, age.Round(time.Second), newest.UTC().Format(time.RFC3339), o.MaxAge)
		}
	}
	r := c.finish(cps, v)
	if r.Unprotected > 0 {
		first, err := s.Records(ctx, Query{AfterSeq: r.Protected, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(first) == 1 {
			r.UnprotectedSince = time.Unix(0, first[0].TimeNs).UTC()
		}
	}
	return r, nil
}

// checkCheckpointChain checks the chained checkpoints (Counter >= 1) in
// counter order: no counter skipped, each naming its predecessor's digest,
// none vouching for fewer events than the one before. The first one held
// may follow pruned ones, so its own Prev is not checked.
func (c *chainCheck) checkCheckpointChain(cps []Checkpoint, v *Verifier) {
	var chained []*Checkpoint
	for i := range cps {
		if cps[i].Counter > 0 && v.Check(&cps[i]) { // a forged one is reported already
			chained = append(chained, &cps[i])
		}
	}
	slices.SortFunc(chained, func(a, b *Checkpoint) int { return cmp.Compare(a.Counter, b.Counter) })
	for i := 1; i < len(chained); i++ {
		prev, cp := chained[i-1], chained[i]
		switch {
		case cp.Counter == prev.Counter:
			c.report(CheckpointMissing, cp.Seq, "two checkpoints are numbered #%d: the checkpoint chain forked", cp.Counter)
		case cp.Counter != prev.Counter+1:
			c.report(CheckpointMissing, cp.Seq, "checkpoints #%d to #%d are missing before the one at seq %d", prev.Counter+1, cp.Counter-1, cp.Seq)
		case cp.Prev != prev.Hash():
			c.report(CheckpointMissing, cp.Seq, "checkpoint #%d does not name checkpoint #%d as its predecessor", cp.Counter, prev.Counter)
		case cp.Seq < prev.Seq:
			c.report(Rewritten, cp.Seq, "checkpoint #%d vouches for fewer events than #%d", cp.Counter, prev.Counter)
		}
	}
}

// columnsDiffer names the first queryable copy in r that disagrees with
// the hashed event e, or returns "".
func columnsDiffer(r *Record, e *Event) string {
	switch {
	case r.TimeNs != e.Time.UnixNano():
		return "time"
	case r.Kind != e.Kind:
		return "kind"
	case r.Principal != e.Principal:
		return "principal"
	case r.Action != e.Action:
		return "action"
	case r.KeyName != e.KeyName:
		return "key name"
	case r.Result != e.Result:
		return "result"
	}
	return ""
}

// Err turns a report with problems into an error naming the first.
func (r *Report) Err() error {
	if p := r.First(); p != nil {
		return fmt.Errorf("audit chain broken at %s (%d problems)", p, len(r.Problems))
	}
	return nil
}
