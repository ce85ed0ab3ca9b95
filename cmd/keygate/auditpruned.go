package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// pruneAction is the audit.pruned event's action.
const pruneAction = "keygate:PruneAuditLog"

// recordPrune appends to the chain, before anything is deleted, what is
// about to be pruned, by whom (the operating-system account and host: the
// prune runs with database access, not a keygate certificate) and which
// archive holds it. A running keygated's next checkpoint covers it.
func recordPrune(ctx context.Context, s audit.Store, from uint64, info audit.ArchiveInfo, archive, sum string) (*audit.Event, error) {
	host, _ := os.Hostname()
	who := "uid " + fmt.Sprint(os.Getuid())
	if u, err := user.Current(); err == nil {
		who = u.Username + " (" + who + ")"
	}
	e := &audit.Event{Kind: audit.KindAuditPruned, Replica: host, Action: pruneAction, Result: audit.ResultOK,
		Detail: fmt.Sprintf("pruning events %d-%d (%d events) by %s on %s; covered by archive %s sha256:%s, through seq %d hash %s, checkpoint key %s",
			from, info.Through.Seq, info.Through.Seq+1-from, who, host, archive, sum, info.Through.Seq,
			hex.EncodeToString(info.Through.Hash[:]), info.KeyID)}
	if err := audit.AppendEvent(ctx, s, e); err != nil {
		return nil, err
	}
	return e, nil
}

// recordPruneFailed says, best effort, that the prune recorded at rec did
// not happen after all.
func recordPruneFailed(ctx context.Context, s audit.Store, rec *audit.Event, cause error) {
	msg := cause.Error()
	if len(msg) > 512 {
		msg = msg[:512]
	}
	audit.AppendEvent(ctx, s, &audit.Event{Kind: audit.KindAuditPruned, Replica: rec.Replica, Action: pruneAction,
		Result: "Aborted", Error: "the prune recorded at seq " + fmt.Sprint(rec.Seq) + " failed; nothing was deleted",
		Detail: strings.ToValidUTF8(msg, "?")})
}

// fileSHA256 hashes f from its start and leaves it at its start again.
func fileSHA256(f *os.File) (string, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("--archive: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pruneNote is the line `audit verify` prints about the newest prune's
// record, "" when the log holds none.
func pruneNote(e *audit.Event) string {
	if e == nil {
		return ""
	}
	return fmt.Sprintf("last prune: audit event %d at %s: %s", e.Seq, e.Time.UTC().Format(time.RFC3339), e.Detail)
}

// lastPrune finds the newest audit.pruned event: in the store at db
// offline, else through the server. Prunes are rare, so paging through
// them is cheap.
func (e *env) lastPrune(ctx context.Context, db string) (*audit.Event, error) {
	if db != "" {
		s, err := sqlstore.OpenReadOnly(ctx, db)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		recs, err := s.Records(ctx, audit.Query{Kind: audit.KindAuditPruned, Desc: true, Limit: 1})
		if err != nil || len(recs) == 0 {
			return nil, err
		}
		return audit.Decode(recs[0].Body)
	}
	c, err := e.audit()
	if err != nil {
		return nil, err
	}
	var last *pb.AuditEvent
	req := &pb.ListEventsRequest{Filter: &pb.EventFilter{Kind: string(audit.KindAuditPruned)}, PageSize: 1000}
	for {
		resp, err := c.ListEvents(ctx, req)
		if err != nil {
			return nil, err
		}
		if n := len(resp.Events); n > 0 {
			last = resp.Events[n-1]
		}
		if resp.NextPageToken == "" {
			break
		}
		req.PageToken = resp.NextPageToken
	}
	if last == nil {
		return nil, nil
	}
	return &audit.Event{Seq: last.Seq, Time: last.Time.AsTime(), Detail: last.Detail}, nil
}
