package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxArchiveLine bounds one JSON line: an event of MaxEventSize twice over
// (a version 1 line: base64 body plus readable copy) with room to spare.
const maxArchiveLine = 8 * MaxEventSize

// VerifyArchive checks an archive written by Export against the checkpoint
// key, offline: the chain from the header's base, each readable copy
// against its hashed body, every checkpoint's signature, and that a valid
// checkpoint vouches for the last event and (after a prune) the base.
func VerifyArchive(r io.Reader, v *Verifier) (*Report, ArchiveInfo, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxArchiveLine)
	var info ArchiveInfo
	var c *chainCheck
	var cps []Checkpoint
	var v1 bool
	line := 0
	for sc.Scan() {
		line++
		var l archiveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, info, fmt.Errorf("archive line %d: %w", line, err)
		}
		switch {
		case line == 1:
			if l.Type != "header" || l.Format != ArchiveFormat && l.Format != ArchiveFormatV1 {
				return nil, info, fmt.Errorf("archive line 1: not a %s (or v1) header", ArchiveFormat)
			}
			v1 = l.Format == ArchiveFormatV1
			var err error
			if info.Base, err = l.Base.head(); err != nil {
				return nil, info, err
			}
			if info.Through, err = l.Through.head(); err != nil {
				return nil, info, err
			}
			info.KeyID = l.KeyID
		case l.Type == "checkpoint" && l.Checkpoint != nil:
			if c != nil {
				return nil, info, fmt.Errorf("archive line %d: checkpoint after the events", line)
			}
			cp, err := l.Checkpoint.checkpoint()
			if err != nil {
				return nil, info, fmt.Errorf("archive line %d: %w", line, err)
			}
			cps = append(cps, cp)
		case l.Type == "event":
			if c == nil {
				c = newChainCheck(info.Base, cps)
			}
			if !v1 {
				// The readable rendering is the event: rebuild the
				// canonical encoding from it. Its hash is computed, so
				// an altered event shows as the next one's broken link
				// (or, for the last, against the header and checkpoint).
				e, err := eventFromJSON(l.Event)
				if err != nil {
					return nil, info, fmt.Errorf("archive line %d: %w", line, err)
				}
				c.columns = nil
				c.add(&Record{Seq: e.Seq, Hash: e.Hash, Body: AppendCanonical(nil, e)})
				continue
			}
			rec := Record{Seq: l.Seq, Body: l.Body}
			copy(rec.Hash[:], l.Hash)
			readable := l.Event
			c.columns = func(_ *Record, e *Event) string { return readableDiffers(readable, e) }
			c.add(&rec)
		default:
			return nil, info, fmt.Errorf("archive line %d: unknown line type %q", line, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, info, fmt.Errorf("reading archive: %w", err)
	}
	if line == 0 {
		return nil, info, errors.New("archive is empty")
	}
	if c == nil {
		c = newChainCheck(info.Base, cps)
	}
	info.Events = c.events
	if c.last != info.Through {
		c.report(Cut, c.last.Seq+1, "the archive header says it ends at event %d, but its events end at %d", info.Through.Seq, c.last.Seq)
	}
	rep := c.finish(cps, v)
	if rep.OK() && rep.Protected != info.Through.Seq {
		rep.Problems = append(rep.Problems, Problem{Kind: Unanchored, Seq: info.Through.Seq,
			Msg: "no valid checkpoint vouches for the archive's last event"})
	}
	return rep, info, nil
}

// ReadArchive calls fn with each event of an archive (either version), in
// order, without verifying anything: verify the archive first.
func ReadArchive(r io.Reader, fn func(*Event) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxArchiveLine)
	for line := 1; sc.Scan(); line++ {
		var l archiveLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("archive line %d: %w", line, err)
		}
		if l.Type != "event" {
			continue
		}
		var e *Event
		var err error
		if l.Body != nil {
			e, err = Decode(l.Body)
		} else {
			e, err = eventFromJSON(l.Event)
		}
		if err != nil {
			return fmt.Errorf("archive line %d: %w", line, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return sc.Err()
}

// readableDiffers names a difference between the readable copy and the
// hashed event, or returns "".
func readableDiffers(readable json.RawMessage, e *Event) string {
	want, err := e.MarshalJSON()
	if err != nil {
		return "readable copy"
	}
	var got bytes.Buffer
	if json.Compact(&got, readable) != nil || !bytes.Equal(got.Bytes(), want) {
		return "readable copy"
	}
	return ""
}

// Prune deletes from s the events an archive covers, after checking that
// the archive verifies in full, starts at or before the store's base, and
// ends at an event the store still holds with the same hash. Keep the
// archive: after Prune it is the only copy of those events.
func Prune(ctx context.Context, s Store, archive io.Reader, v *Verifier) (ArchiveInfo, error) {
	rep, info, err := VerifyArchive(archive, v)
	if err != nil {
		return info, fmt.Errorf("audit: prune: %w", err)
	}
	if !rep.OK() {
		return info, fmt.Errorf("audit: prune: the archive does not verify: %s", rep.First())
	}
	base, _, err := s.Bounds(ctx)
	if err != nil {
		return info, err
	}
	if info.Base.Seq > base.Seq {
		return info, fmt.Errorf("audit: prune: the archive starts after seq %d but the store still holds events from %d: archive those first",
			info.Base.Seq, base.Seq+1)
	}
	if err := s.Prune(ctx, info.Through); err != nil {
		return info, fmt.Errorf("audit: prune: %w", err)
	}
	return info, nil
}
