package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keygate/keygate/audit"
)

// maxRowsPerInsert keeps one INSERT well under both databases' parameter
// limits (SQLite 32766, PostgreSQL 65535) and bounds the prepared-statement
// cache; group-commit batches are usually smaller than this.
const maxRowsPerInsert = 64

// Append implements audit.Store: lock the head, link, insert, advance.
func (s *Store) Append(ctx context.Context, link func(audit.Head) ([]audit.Record, error)) (audit.Head, error) {
	if s.lockHeadStmt == nil {
		return audit.Head{}, errors.New("sqlstore: append: the store was opened read-only")
	}
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return audit.Head{}, fmt.Errorf("sqlstore: append: %w", err)
	}
	defer unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return audit.Head{}, fmt.Errorf("sqlstore: append: begin: %w", err)
	}
	defer tx.Rollback()
	_, head, err := s.lockHead(ctx, tx)
	if err != nil {
		return audit.Head{}, fmt.Errorf("sqlstore: append: %w", err)
	}
	recs, err := link(head)
	if err != nil {
		return audit.Head{}, err
	}
	for i := range recs {
		if recs[i].Seq != head.Seq+uint64(i)+1 {
			return audit.Head{}, fmt.Errorf("sqlstore: append: record %d has seq %d, want %d", i, recs[i].Seq, head.Seq+uint64(i)+1)
		}
	}
	if len(recs) == 0 {
		return head, nil
	}
	last := recs[len(recs)-1]
	head = audit.Head{Seq: last.Seq, Hash: last.Hash}
	args := make([]any, 0, min(len(recs), maxRowsPerInsert)*eventCols+2)
	advanced := false
	for start := 0; start < len(recs); start += maxRowsPerInsert {
		chunk := recs[start:min(len(recs), start+maxRowsPerInsert)]
		args = args[:0]
		for i := range chunk {
			r := &chunk[i]
			args = append(args, int64(r.Seq), r.TimeNs, string(r.Kind), r.Principal, r.Action,
				r.KeyName, r.Result, r.Hash[:], r.Body)
		}
		advance := s.d.dmlInWith && start+len(chunk) == len(recs)
		if advance {
			args = append(args, int64(head.Seq), head.Hash[:])
		}
		st, err := s.insertStmt(ctx, len(chunk), advance)
		if err != nil {
			return audit.Head{}, fmt.Errorf("sqlstore: append: prepare insert: %w", err)
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
			return audit.Head{}, fmt.Errorf("sqlstore: append: insert events %d-%d: %w", chunk[0].Seq, chunk[len(chunk)-1].Seq, err)
		}
		advanced = advance
	}
	if !advanced {
		if _, err := tx.StmtContext(ctx, s.advanceStmt).ExecContext(ctx, int64(head.Seq), head.Hash[:]); err != nil {
			return audit.Head{}, fmt.Errorf("sqlstore: append: advance head: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return audit.Head{}, fmt.Errorf("sqlstore: append: commit: %w", err)
	}
	return head, nil
}

// lockHead reads the head row inside tx, holding its lock until tx ends.
func (s *Store) lockHead(ctx context.Context, tx *sql.Tx) (base, head audit.Head, err error) {
	var seq, baseSeq int64
	var hash, baseHash []byte
	if err := tx.StmtContext(ctx, s.lockHeadStmt).QueryRowContext(ctx).Scan(&seq, &hash, &baseSeq, &baseHash); err != nil {
		return base, head, fmt.Errorf("reading the chain head: %w", err)
	}
	if len(hash) != 32 || len(baseHash) != 32 {
		return base, head, errors.New("the chain head row holds a hash that is not 32 bytes")
	}
	head.Seq, base.Seq = uint64(seq), uint64(baseSeq)
	copy(head.Hash[:], hash)
	copy(base.Hash[:], baseHash)
	return base, head, nil
}

// AddCheckpoint implements audit.Store. A chained checkpoint is inserted
// under the head lock, after checking that it continues the newest one, so
// two replicas signing at once cannot fork the checkpoint chain (the
// unique index on counter backs this up).
func (s *Store) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	if s.lockHeadStmt == nil {
		return errors.New("sqlstore: add checkpoint: the store was opened read-only")
	}
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: add checkpoint: %w", err)
	}
	defer unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: add checkpoint: %w", err)
	}
	defer tx.Rollback()
	if c.Counter > 0 {
		if _, _, err := s.lockHead(ctx, tx); err != nil {
			return fmt.Errorf("sqlstore: add checkpoint: %w", err)
		}
		var newest int64
		if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(counter), 0) FROM audit_checkpoints").Scan(&newest); err != nil {
			return fmt.Errorf("sqlstore: add checkpoint: %w", err)
		}
		if uint64(newest) != c.Counter-1 {
			return fmt.Errorf("sqlstore: add checkpoint %d (newest stored: %d): %w", c.Counter, newest, audit.ErrCheckpointRace)
		}
	}
	var prev []byte
	if c.Counter > 0 {
		prev = c.Prev[:]
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(
		"INSERT INTO audit_checkpoints (seq, head, time_ns, key_id, signature, counter, prev) VALUES (?, ?, ?, ?, ?, ?, ?)"),
		int64(c.Seq), c.Head[:], c.Time.UnixNano(), c.KeyID, c.Signature, int64(c.Counter), prev); err != nil {
		return fmt.Errorf("sqlstore: add checkpoint at seq %d: %w", c.Seq, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: add checkpoint at seq %d: commit: %w", c.Seq, err)
	}
	return nil
}

// Prune implements audit.Store.
func (s *Store) Prune(ctx context.Context, through audit.Head) error {
	if s.lockHeadStmt == nil {
		return errors.New("sqlstore: prune: the store was opened read-only")
	}
	unlock, err := s.lockWrites(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: prune: %w", err)
	}
	defer unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: prune: %w", err)
	}
	defer tx.Rollback()
	base, head, err := s.lockHead(ctx, tx)
	if err != nil {
		return fmt.Errorf("sqlstore: prune: %w", err)
	}
	if through.Seq <= base.Seq || through.Seq > head.Seq {
		return fmt.Errorf("sqlstore: prune through %d: outside the stored chain (%d, %d]", through.Seq, base.Seq, head.Seq)
	}
	var hash []byte
	if err := tx.QueryRowContext(ctx, s.d.rebind("SELECT hash FROM audit_events WHERE seq = ?"), int64(through.Seq)).Scan(&hash); err != nil {
		return fmt.Errorf("sqlstore: prune through %d: reading the event: %w", through.Seq, err)
	}
	if string(hash) != string(through.Hash[:]) {
		return fmt.Errorf("sqlstore: prune through %d: the stored event's hash differs from the archived one", through.Seq)
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.d.rebind("SELECT COUNT(*) FROM audit_checkpoints WHERE seq = ? AND head = ?"),
		int64(through.Seq), through.Hash[:]).Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: prune through %d: %w", through.Seq, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: prune through %d: no checkpoint at that seq to anchor the rest of the chain", through.Seq)
	}
	for _, q := range []string{
		"DELETE FROM audit_events WHERE seq <= ?",
		"DELETE FROM audit_checkpoints WHERE seq < ?",
	} {
		if _, err := tx.ExecContext(ctx, s.d.rebind(q), int64(through.Seq)); err != nil {
			return fmt.Errorf("sqlstore: prune through %d: %w", through.Seq, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind("UPDATE audit_head SET base_seq = ?, base_hash = ? WHERE id = 1"),
		int64(through.Seq), through.Hash[:]); err != nil {
		return fmt.Errorf("sqlstore: prune through %d: %w", through.Seq, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: prune through %d: commit: %w", through.Seq, err)
	}
	return nil
}
