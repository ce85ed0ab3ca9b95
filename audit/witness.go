package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Witness keeps a copy of every checkpoint outside the database, where
// someone who can write the database cannot reach: an append-only file on
// other storage, an S3 bucket with Object Lock, the log a SIEM collects
// (package audit/witness). A store whose newest checkpoint is older than
// the witness's was rolled back.
type Witness interface {
	// Name says which witness, in messages ("file /mnt/w/cp.jsonl").
	Name() string
	// Publish records c. It is called after c is committed to the store,
	// so a witness may lag the store but never lead it.
	Publish(ctx context.Context, c Checkpoint) error
}

// WitnessReader is a witness that can be read back: the newest checkpoint
// it holds (by Counter), ok false when it holds none.
type WitnessReader interface {
	Witness
	Latest(ctx context.Context) (c Checkpoint, ok bool, err error)
}

// publish sends c to every witness; the first failure is returned with the
// witness's name (the checkpoint is stored either way).
func (l *Log) publish(ctx context.Context, c Checkpoint) error {
	var errs []error
	for _, w := range l.cfg.Witnesses {
		if err := w.Publish(ctx, c); err != nil {
			errs = append(errs, fmt.Errorf("audit: checkpoint #%d stored but not witnessed by %s: %w", c.Counter, w.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// CheckWitnesses compares the store with each witness that can be read:
// the witness's newest checkpoint must be validly signed, and the store
// must hold that same checkpoint and the events it vouches for. It
// returns one Problem per disagreement (RolledBack); keygated refuses to
// start on any.
func CheckWitnesses(ctx context.Context, s Store, v *Verifier, ws []WitnessReader) ([]Problem, error) {
	var problems []Problem
	for _, w := range ws {
		p, err := checkWitness(ctx, s, v, w)
		if err != nil {
			return nil, err
		}
		if p != nil {
			problems = append(problems, *p)
		}
	}
	return problems, nil
}

func checkWitness(ctx context.Context, s Store, v *Verifier, w WitnessReader) (*Problem, error) {
	wc, ok, err := w.Latest(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: reading witness %s: %w", w.Name(), err)
	}
	if !ok {
		return nil, nil
	}
	bad := func(format string, args ...any) *Problem {
		return &Problem{Kind: RolledBack, Seq: wc.Seq, Msg: fmt.Sprintf("witness %s: ", w.Name()) + fmt.Sprintf(format, args...)}
	}
	if !v.Check(&wc) {
		return bad("its newest checkpoint (#%d, seq %d) has no valid signature by a trusted audit key", wc.Counter, wc.Seq), nil
	}
	last, err := s.LastCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if last.Counter < wc.Counter {
		return bad("the store's newest checkpoint is #%d (seq %d) but the witness holds #%d (seq %d, signed %s): the store was rolled back",
			last.Counter, last.Seq, wc.Counter, wc.Seq, wc.Time.Format(time.RFC3339)), nil
	}
	cps, err := s.Checkpoints(ctx, wc.Seq, wc.Seq)
	if err != nil {
		return nil, err
	}
	found := false
	for i := range cps {
		if cps[i].Counter == wc.Counter {
			found = cps[i].Hash() == wc.Hash()
			break
		}
	}
	if !found {
		return bad("the store does not hold the witness's checkpoint #%d (seq %d) as signed: its checkpoints were replaced", wc.Counter, wc.Seq), nil
	}
	_, head, err := s.Bounds(ctx)
	if err != nil {
		return nil, err
	}
	if head.Seq < wc.Seq {
		return bad("the store's chain ends at event %d but the witness's checkpoint #%d vouches for %d: the store was rolled back",
			head.Seq, wc.Counter, wc.Seq), nil
	}
	return nil, nil
}

// checkpointJSON is a checkpoint in archives and witnesses.
type checkpointJSON struct {
	Counter   uint64 `json:"counter,omitempty"`
	Prev      []byte `json:"prev,omitempty"`
	Seq       uint64 `json:"seq"`
	Head      []byte `json:"head"`
	TimeNs    int64  `json:"time_ns"`
	KeyID     string `json:"key_id"`
	Signature []byte `json:"signature"`
}

func toCheckpointJSON(c *Checkpoint) *checkpointJSON {
	j := &checkpointJSON{Counter: c.Counter, Seq: c.Seq, Head: c.Head[:], TimeNs: c.Time.UnixNano(), KeyID: c.KeyID, Signature: c.Signature}
	if c.Counter > 0 {
		j.Prev = c.Prev[:]
	}
	return j
}

func (j *checkpointJSON) checkpoint() (Checkpoint, error) {
	if len(j.Head) != 32 || (j.Counter > 0 && len(j.Prev) != 32) {
		return Checkpoint{}, errors.New("checkpoint: head and prev must be 32 bytes")
	}
	c := Checkpoint{Counter: j.Counter, Seq: j.Seq, Time: time.Unix(0, j.TimeNs).UTC(), KeyID: j.KeyID, Signature: j.Signature}
	copy(c.Head[:], j.Head)
	copy(c.Prev[:], j.Prev)
	return c, nil
}

// MarshalCheckpoint is the JSON a witness keeps: counter, prev, seq, head,
// time_ns, key_id, signature (byte fields in standard base64). It holds
// everything a verifier needs to check the signature.
func MarshalCheckpoint(c Checkpoint) ([]byte, error) { return json.Marshal(toCheckpointJSON(&c)) }

// UnmarshalCheckpoint reads what MarshalCheckpoint wrote.
func UnmarshalCheckpoint(b []byte) (Checkpoint, error) {
	var j checkpointJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	return j.checkpoint()
}
