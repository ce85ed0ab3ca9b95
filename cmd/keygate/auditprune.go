package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/server"
)

// auditPruneCommands serve step 6 of audit/RETENTION.md: with no server,
// delete from the store the events an archive holds, once the archive and
// the store both verify against the checkpoint key.
var auditPruneCommands = []*command{
	{path: "audit prune", stream: true, summary: "offline: delete archived events from the store once archive and store verify",
		detail: "The last step of the monthly procedure in audit/RETENTION.md, after\n" +
			"audit archive and copying the archive to WORM storage and reading it back:\n" +
			"  keygate audit prune --db keygate.db --checkpoint-key audit-key.pem --archive audit-2026-07.jsonl\n" +
			"It verifies the archive and the whole store against the checkpoint key and\n" +
			"refuses (exit 1, nothing deleted) if either is broken, and (exit 5) if the\n" +
			"archive's last event is younger than --keep-days; audit.Prune then checks\n" +
			"that the archive starts at or before the store's base and that the store\n" +
			"holds its last event with the same hash, and deletes up to it in one\n" +
			"transaction. The store is verified again afterwards. Keep the archive: it\n" +
			"is then the only copy of those events. No deadline unless --timeout: verifying\n" +
			"a year of events takes a while (the deletion is one transaction: all or none).",
		setup: func(fs *flag.FlagSet) action {
			db := fs.String("db", "", "the audit store: a SQLite file or a postgres:// DSN (required)")
			keyFile := fs.String("checkpoint-key", "", "checkpoint public key (PEM) (required)")
			archive := fs.String("archive", "", "the archive from audit archive, as read back from storage (a file; required)")
			keepDays := fs.Uint("keep-days", 92, "refuse unless the archive's last event is at least this old: PCI DSS 10.5.1 keeps 3 months online")
			return func(ctx context.Context, e *env, _ []string) error {
				if *db == "" || *archive == "" {
					return usageErr("--db, --checkpoint-key and --archive are required")
				}
				if *archive == "-" {
					return usageErr("--archive -: give a file (it is read twice: verified, then pruned against)")
				}
				pemKey, err := e.read("checkpoint-key", *keyFile)
				if err != nil {
					return err
				}
				v, err := audit.ParsePublicKeyPEM(pemKey)
				if err != nil {
					return usageErr("--checkpoint-key: %v", err)
				}
				return e.prune(ctx, *db, *archive, v, time.Now().AddDate(0, 0, -int(*keepDays)))
			}
		}},
}

// prune deletes what archive covers from the store at db, if archive and
// store verify under v and the archive's last event happened before
// notAfter.
func (e *env) prune(ctx context.Context, db, archive string, v *audit.Verifier, notAfter time.Time) error {
	f, err := os.Open(archive)
	if err != nil {
		return usageErr("--archive: %v", err)
	}
	defer f.Close()
	rep, info, err := audit.VerifyArchive(f, v)
	if err != nil || !rep.OK() {
		why := fmt.Sprint(err)
		if err == nil {
			why = rep.First().String()
		}
		fmt.Fprintf(e.stdout, "archive %s does not verify: %s\nnothing pruned\n", archive, why)
		return errInvalid
	}
	// Read-only first: a mistyped SQLite path must not become a new, empty store.
	ro, err := sqlstore.OpenReadOnly(ctx, db)
	if err != nil {
		return usageErr("--db: %v", err)
	}
	ro.Close()
	s, err := sqlstore.Open(ctx, db)
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer s.Close()
	before, err := audit.Verify(ctx, s, v)
	if err != nil {
		return fmt.Errorf("verifying the store: %w", err)
	}
	if !before.OK() {
		fmt.Fprintf(e.stdout, "the store does not verify: %s\nnothing pruned: investigate first (keygate audit verify --db)\n", before.First())
		return errInvalid
	}
	base, _, err := s.Bounds(ctx)
	if err != nil {
		return fmt.Errorf("reading the store's bounds: %w", err)
	}
	if info.Through.Seq == 0 {
		return kgerr.Errorf(kgerr.FailedPrecondition, "the archive holds no events; nothing pruned")
	}
	last, err := s.Records(ctx, audit.Query{AfterSeq: info.Through.Seq - 1, Limit: 1})
	if err != nil {
		return fmt.Errorf("reading the archive's last event from the store: %w", err)
	}
	if len(last) != 1 || last[0].Seq != info.Through.Seq || last[0].Hash != info.Through.Hash {
		// Refused before the prune is recorded: nothing would be deleted.
		return kgerr.Errorf(kgerr.FailedPrecondition, "the archive's last event (seq %d) is outside the stored chain (the store starts after seq %d); nothing pruned",
			info.Through.Seq, base.Seq)
	}
	if t := time.Unix(0, last[0].TimeNs).UTC(); t.After(notAfter) {
		return kgerr.Errorf(kgerr.FailedPrecondition, "the archive's last event (seq %d, %s) is younger than --keep-days allows; nothing pruned",
			info.Through.Seq, t.Format(time.RFC3339))
	}
	// The deletion is recorded in the chain first: if it cannot be, nothing
	// is deleted (issue 16, finding 6).
	sum, err := fileSHA256(f)
	if err != nil {
		return err
	}
	rec, err := recordPrune(ctx, s, base.Seq+1, info, archive, sum)
	if err != nil {
		return fmt.Errorf("recording the prune in the audit log: %w; nothing pruned", err)
	}
	if _, err := audit.Prune(ctx, s, f, v); err != nil {
		recordPruneFailed(ctx, s, rec, err)
		return err
	}
	after, err := audit.Verify(ctx, s, v)
	if err != nil {
		return fmt.Errorf("verifying the store after pruning: %w", err)
	}
	pruned := pruneResult{From: base.Seq + 1, Through: info.Through.Seq, Events: info.Through.Seq - base.Seq, KeyID: info.KeyID, RecordSeq: rec.Seq}
	if e.json() {
		store, err := jsonObject(server.VerifyLogResponse(after), nil)
		if err != nil {
			return err
		}
		out, err := json.MarshalIndent(map[string]any{"pruned": pruned, "store": store}, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", out)
	} else {
		fmt.Fprintf(e.stdout, "pruned events %d-%d (%d events), all in archive %s; recorded as audit event %d\nstore after pruning: ",
			pruned.From, pruned.Through, pruned.Events, archive, rec.Seq)
		printVerify(e, server.VerifyLogResponse(after))
	}
	if !after.OK() {
		return errInvalid
	}
	return nil
}

type pruneResult struct {
	From    uint64 `json:"from_seq"`
	Through uint64 `json:"through_seq"`
	Events  uint64 `json:"events"`
	KeyID   string `json:"key_id"`
	// RecordSeq is the audit.pruned event that recorded the prune.
	RecordSeq uint64 `json:"record_seq,omitempty"`
}

// archiveHeader picks the segment's bounds out of an archive's first line
// (audit.ArchiveFormat's header) as the archive streams past.
type archiveHeader struct {
	line []byte
	done bool
	head struct {
		Base    struct{ Seq uint64 } `json:"base"`
		Through struct{ Seq uint64 } `json:"through"`
		KeyID   string               `json:"key_id"`
	}
}

func (h *archiveHeader) sniff(b []byte) {
	if h.done {
		return
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		h.line = append(h.line, b...)
		h.done = len(h.line) > 1<<16 // not a header: give up
		return
	}
	h.line, h.done = append(h.line, b[:i]...), true
	json.Unmarshal(h.line, &h.head) // best effort: this only feeds the summary
}

func (h *archiveHeader) print(e *env, path string) error {
	r := pruneResult{From: h.head.Base.Seq + 1, Through: h.head.Through.Seq, Events: h.head.Through.Seq - h.head.Base.Seq, KeyID: h.head.KeyID}
	if e.json() {
		out, err := json.MarshalIndent(map[string]any{"file": path, "archived": r}, "", "  ")
		if err == nil {
			_, err = fmt.Fprintf(e.stdout, "%s\n", out)
		}
		return err
	}
	_, err := fmt.Fprintf(e.stdout, "archived events %d-%d (%d events) to %s; checkpoint key %s\n", r.From, r.Through, r.Events, path, dash(r.KeyID))
	return err
}
