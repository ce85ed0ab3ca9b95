package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// An archive is a segment of the chain as JSON lines: a header, the signed
// checkpoints covering the segment (always one at its last event and, after
// a prune, one at its base), then the events, each as its readable
// rendering (Event.MarshalJSON), from which the canonical encoding is
// rebuilt exactly (the rendering is one-to-one). Anyone with the checkpoint
// public key can verify it with VerifyArchive, without keygate's database.
// Version 1 archives carried each event twice (the canonical body in
// base64 and the readable copy); they stay readable and verifiable.

// ArchiveFormat names the format in the header line; ArchiveFormatV1 is
// the earlier one, still read.
const (
	ArchiveFormat   = "keygate-audit-archive-v2"
	ArchiveFormatV1 = "keygate-audit-archive-v1"
)

// ArchiveInfo describes an archive segment: events Base.Seq+1 to Through.Seq.
type ArchiveInfo struct {
	Base    Head
	Through Head
	Events  uint64
	KeyID   string
}

type archiveLine struct {
	Type string `json:"type"` // "header", "event", "checkpoint"
	// header
	Format  string    `json:"format,omitempty"`
	Base    *headJSON `json:"base,omitempty"`
	Through *headJSON `json:"through,omitempty"`
	KeyID   string    `json:"key_id,omitempty"`
	// event: v2 has only the readable rendering; v1 also the seq, hash
	// and canonical body (base64 in JSON)
	Seq   uint64          `json:"seq,omitempty"`
	Hash  []byte          `json:"hash,omitempty"`
	Body  []byte          `json:"body,omitempty"`
	Event json.RawMessage `json:"event,omitempty"`
	// checkpoint
	Checkpoint *checkpointJSON `json:"checkpoint,omitempty"`
}

type headJSON struct {
	Seq  uint64 `json:"seq"`
	Hash []byte `json:"hash"`
}

func toHeadJSON(h Head) *headJSON { return &headJSON{Seq: h.Seq, Hash: h.Hash[:]} }

func (h *headJSON) head() (Head, error) {
	if h == nil || len(h.Hash) != 32 {
		return Head{}, errors.New("archive header: base and through need a seq and a 32-byte hash")
	}
	out := Head{Seq: h.Seq}
	copy(out.Hash[:], h.Hash)
	return out, nil
}

// Export writes to w the segment from the store's base to the last checkpoint
// whose event happened before until, verifying it as it goes. It fails when
// no checkpoint qualifies or the segment does not verify; on failure, discard
// whatever was written.
func Export(ctx context.Context, s Store, v *Verifier, until time.Time, w io.Writer) (ArchiveInfo, error) {
	base, head, err := s.Bounds(ctx)
	if err != nil {
		return ArchiveInfo{}, err
	}
	cps, err := s.Checkpoints(ctx, base.Seq, head.Seq)
	if err != nil {
		return ArchiveInfo{}, err
	}
	end, err := segmentEnd(ctx, s, v, base, cps, until)
	if err != nil {
		return ArchiveInfo{}, err
	}
	info := ArchiveInfo{Base: base, Through: end, Events: end.Seq - base.Seq, KeyID: v.KeyID()}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(archiveLine{Type: "header", Format: ArchiveFormat, Base: toHeadJSON(base),
		Through: toHeadJSON(end), KeyID: v.KeyID()}); err != nil {
		return ArchiveInfo{}, err
	}
	for _, cp := range cps {
		if cp.Seq > end.Seq {
			break
		}
		if err := enc.Encode(archiveLine{Type: "checkpoint", Checkpoint: toCheckpointJSON(&cp)}); err != nil {
			return ArchiveInfo{}, err
		}
	}
	c := newChainCheck(base, nil)
	c.columns = columnsDiffer
	q := Query{AfterSeq: base.Seq, Limit: MaxLimit}
	for q.AfterSeq < end.Seq {
		recs, err := s.Records(ctx, q)
		if err != nil {
			return ArchiveInfo{}, err
		}
		if len(recs) == 0 {
			break
		}
		for i := range recs {
			r := &recs[i]
			if r.Seq > end.Seq {
				break
			}
			c.add(r)
			e, err := Decode(r.Body)
			if err != nil {
				return ArchiveInfo{}, fmt.Errorf("audit: export: event %d: %w", r.Seq, err)
			}
			readable, _ := e.archiveJSON()
			if err := enc.Encode(archiveLine{Type: "event", Event: readable}); err != nil {
				return ArchiveInfo{}, err
			}
		}
		q.AfterSeq = recs[len(recs)-1].Seq
	}
	if len(c.problems) > 0 || c.last != end {
		return ArchiveInfo{}, fmt.Errorf("audit: export: the chain does not verify up to seq %d; run verify", end.Seq)
	}
	return info, bw.Flush()
}

// segmentEnd picks the last valid checkpoint whose event is before until.
func segmentEnd(ctx context.Context, s Store, v *Verifier, base Head, cps []Checkpoint, until time.Time) (Head, error) {
	for i := len(cps) - 1; i >= 0; i-- {
		cp := &cps[i]
		if cp.Seq <= base.Seq || !v.Check(cp) {
			continue
		}
		recs, err := s.Records(ctx, Query{AfterSeq: cp.Seq - 1, Limit: 1})
		if err != nil {
			return Head{}, err
		}
		if len(recs) == 1 && recs[0].Seq == cp.Seq && recs[0].TimeNs < until.UnixNano() {
			return Head{Seq: cp.Seq, Hash: cp.Head}, nil
		}
	}
	return Head{}, fmt.Errorf("audit: export: no signed checkpoint after seq %d covers events before %s",
		base.Seq, until.UTC().Format(time.RFC3339))
}
