package audit

import (
	"fmt"
)

// ProblemKind names what verification found wrong.
type ProblemKind string

const (
	Altered    ProblemKind = "altered"   // an event's content was changed
	Deleted    ProblemKind = "deleted"   // events are missing from the chain
	Reordered  ProblemKind = "reordered" // an event is stored at another event's place
	Inserted   ProblemKind = "inserted"  // a record that is not part of the chain
	Malformed  ProblemKind = "malformed" // a record that does not decode
	Forged     ProblemKind = "checkpoint-forged"
	Rewritten  ProblemKind = "rewritten"  // the chain disagrees with a signed checkpoint
	Cut        ProblemKind = "cut"        // the chain ends before a checkpoint (or the head) says it does
	Unanchored ProblemKind = "unanchored" // the base of a pruned chain has no signed checkpoint
	// The checkpoint chain: a checkpoint is missing between two others, or
	// does not name its predecessor.
	CheckpointMissing ProblemKind = "checkpoint-missing"
	// The store is older than a witness: checkpoints (and the events after
	// them) were removed, or replaced.
	RolledBack ProblemKind = "rolled-back"
	// The newest checkpoint is older than the checkpoint interval plus
	// slack: checkpointing stopped, or the newest checkpoints were removed.
	Stale ProblemKind = "stale"
	// A key row in the registry does not match the digest the chain last
	// recorded for it: it was changed outside keygate (keys.RowDigest).
	Registry ProblemKind = "registry"
)

// Problem is one broken place, named by the seq where it is.
type Problem struct {
	Kind ProblemKind
	Seq  uint64
	Msg  string
}

func (p Problem) String() string { return fmt.Sprintf("seq %d: %s: %s", p.Seq, p.Kind, p.Msg) }

// maxProblems caps a report; the first problems are the ones that matter.
const maxProblems = 1000

// chainCheck walks records in stored order and finds where the chain
// breaks. It reports at most one problem per record and names the record
// at fault, not merely the first one whose link fails.
type chainCheck struct {
	base           Head
	expect         uint64   // seq the next record should have
	prev, prevPrev [32]byte // computed hashes of the last two records
	prevStored     [32]byte // stored hash of the last record
	last           Head     // last record seen: its chain seq and computed hash
	lastStored     uint64   // its stored seq
	events         uint64
	offset         int64               // stored seq minus chain seq of the last linking record
	want           map[uint64]bool     // seqs that checkpoints cover
	hashAt         map[uint64][32]byte // computed hash at those seqs, once seen
	problems       []Problem
	lastProblem    uint64
	columns        func(r *Record, e *Event) string // names a copied field that differs, or ""
}

func newChainCheck(base Head, cps []Checkpoint) *chainCheck {
	c := &chainCheck{base: base, expect: base.Seq + 1, prev: base.Hash, prevStored: base.Hash,
		last: base, lastStored: base.Seq, want: map[uint64]bool{}, hashAt: map[uint64][32]byte{}, lastProblem: ^uint64(0)}
	for i := range cps {
		c.want[cps[i].Seq] = true
	}
	return c
}

func (c *chainCheck) report(kind ProblemKind, seq uint64, format string, args ...any) {
	if seq == c.lastProblem || len(c.problems) >= maxProblems {
		return
	}
	c.lastProblem = seq
	c.problems = append(c.problems, Problem{Kind: kind, Seq: seq, Msg: fmt.Sprintf(format, args...)})
}

// add checks one record against the chain so far.
func (c *chainCheck) add(r *Record) {
	s := r.Seq
	h := HashCanonical(r.Body)
	c.events++
	gap := s != c.expect // reported here; the broken link that follows is the same problem
	if s > c.expect {
		if s == c.expect+1 {
			c.report(Deleted, c.expect, "event %d is missing", c.expect)
		} else {
			c.report(Deleted, c.expect, "events %d to %d are missing", c.expect, s-1)
		}
	} else if s < c.expect {
		c.report(Inserted, s, "a second record with seq %d follows event %d", s, c.expect-1)
	}
	var e *Event
	var err error
	var seq uint64
	var prev [32]byte
	if c.columns != nil {
		if e, err = Decode(r.Body); err == nil {
			seq, prev = e.Seq, e.PrevHash
		}
	} else {
		// Only the links are wanted (the checkpointer): read the header,
		// skip decoding the fields.
		seq, prev, err = peekHeader(r.Body)
	}
	// offset is stored seq minus chain seq. It is 0 until records are
	// renumbered; following the records that still link keeps one
	// insertion or deletion from flagging everything after it.
	offset := int64(s) - int64(seq)
	if err == nil && prev == c.prev {
		c.offset = offset
	}
	switch {
	case err != nil:
		c.report(Malformed, s, "%v", err)
	case !gap && prev != c.prev && prev == c.prevPrev && c.events > 1:
		c.report(Inserted, s-1, "the record at seq %d is not part of the chain: the record after it links to the one before it", s-1)
		c.offset = offset
	case offset != c.offset:
		c.report(Reordered, s, "the record stored at seq %d is event %d: events were reordered, or removed or inserted and renumbered", s, seq)
	case !gap && prev != c.prev:
		c.linkBroken(s, prev)
	case h != r.Hash:
		c.report(Altered, s, "the event's content does not match its stored hash")
	}
	if e != nil && c.columns != nil {
		if f := c.columns(r, e); f != "" {
			c.report(Altered, s, "the stored %s differs from the hashed event", f)
		}
	}
	if err == nil { // checkpoints name chain positions, not storage rows
		s = seq
	}
	if c.want[s] {
		c.hashAt[s] = h
	}
	c.prevPrev, c.prev, c.prevStored = c.prev, h, r.Hash
	c.last = Head{Seq: s, Hash: h} // chain position: the seq inside the event
	c.lastStored = r.Seq
	c.expect = r.Seq + 1
}

// linkBroken explains why event s does not link to the record before it.
func (c *chainCheck) linkBroken(s uint64, prevHash [32]byte) {
	switch {
	case c.expect-1 == c.base.Seq && c.events == 1:
		c.report(Altered, s, "the first event does not continue from the base (seq %d)", c.base.Seq)
	case prevHash == c.prevStored:
		c.report(Altered, s-1, "the event's content no longer hashes to the value event %d holds", s)
	default:
		c.report(Altered, s-1, "the chain breaks between events %d and %d: event %d was altered, or events were removed after it", s-1, s, s-1)
	}
}
