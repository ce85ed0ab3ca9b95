package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
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
	switch {
	case s.lockHeadStmt == nil:
		return audit.Head{}, errors.New("sqlstore: append: the store was opened read-only")
	case s.closed.Load():
		return audit.Head{}, errors.New("sqlstore: append: the store is closed")
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
	strs := s.txStrings(ctx, tx)
	head, err := s.appendTx(ctx, tx, strs, link)
	if err != nil {
		return audit.Head{}, err
	}
	if err := tx.Commit(); err != nil {
		return audit.Head{}, fmt.Errorf("sqlstore: append: commit: %w", err)
	}
	strs.commit()
	return head, nil
}

// AppendTx does what Append does inside tx, a write transaction the caller
// owns on the same database (and, for SQLite, holding this process's write
// slot): the key registry commits a change and its audit event together.
// The events are durable when the caller commits tx, and gone if it does
// not.
func (s *Store) AppendTx(ctx context.Context, tx *sql.Tx, link func(audit.Head) ([]audit.Record, error)) (audit.Head, error) {
	// Whether tx commits is the caller's to decide: the string ids it adds
	// are not cached.
	return s.appendTx(ctx, tx, s.txStrings(ctx, tx), link)
}

func (s *Store) appendTx(ctx context.Context, tx *sql.Tx, strs *txStrings, link func(audit.Head) ([]audit.Record, error)) (audit.Head, error) {
	if s.lockHeadStmt == nil {
		return audit.Head{}, errors.New("sqlstore: append: the store was opened read-only")
	}
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
		// The hash is not stored (reads compute it from the body): a
		// record whose hash is not its body's would change the chain.
		if recs[i].Hash != sha256.Sum256(recs[i].Body) {
			return audit.Head{}, fmt.Errorf("sqlstore: append: record %d: the hash is not the body's", recs[i].Seq)
		}
	}
	if len(recs) == 0 {
		return head, nil
	}
	last := recs[len(recs)-1]
	head = audit.Head{Seq: last.Seq, Hash: last.Hash}
	args := make([]any, 0, min(len(recs), maxRowsPerInsert)*eventCols+2)
	size := len(recs)
	for i := range recs {
		size += len(recs[i].Body)
	}
	stored := make([]byte, 0, size) // the batch's stored bodies: compact forms are shorter
	advanced := false
	for start := 0; start < len(recs); start += maxRowsPerInsert {
		chunk := recs[start:min(len(recs), start+maxRowsPerInsert)]
		args = args[:0]
		for i := range chunk {
			r := &chunk[i]
			var ids [5]int64
			for j, str := range [...]string{string(r.Kind), r.Principal, r.Action, r.KeyName, r.Result} {
				id, err := strs.ref(str)
				if err != nil {
					return audit.Head{}, fmt.Errorf("sqlstore: append: %w", err)
				}
				ids[j] = int64(id)
			}
			from := len(stored)
			if stored, err = appendStored(stored, r, strs.ref); err != nil {
				return audit.Head{}, fmt.Errorf("sqlstore: append: %w", err)
			}
			args = append(args, int64(r.Seq), r.TimeNs, ids[0], ids[1], ids[2], ids[3], ids[4],
				stored[from:len(stored):len(stored)])
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
	at, err := s.records(ctx, tx, audit.Query{AfterSeq: through.Seq - 1, Limit: 1})
	if err != nil || len(at) != 1 || at[0].Seq != through.Seq {
		return fmt.Errorf("sqlstore: prune through %d: reading the event: %w", through.Seq, cmp.Or(err, errors.New("not stored")))
	}
	if at[0].Hash != through.Hash {
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
