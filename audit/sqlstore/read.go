package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/audit"
)

// Bounds implements audit.Store.
func (s *Store) Bounds(ctx context.Context) (base, head audit.Head, err error) {
	var seq, baseSeq int64
	var hash, baseHash []byte
	err = s.db.QueryRowContext(ctx, "SELECT seq, hash, base_seq, base_hash FROM audit_head WHERE id = 1").
		Scan(&seq, &hash, &baseSeq, &baseHash)
	if err != nil {
		return base, head, fmt.Errorf("sqlstore: reading the chain head: %w", err)
	}
	head.Seq, base.Seq = uint64(seq), uint64(baseSeq)
	copy(head.Hash[:], hash)
	copy(base.Hash[:], baseHash)
	return base, head, nil
}

func kindStrings(ks []audit.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

// Records implements audit.Store.
func (s *Store) Records(ctx context.Context, q audit.Query) ([]audit.Record, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if !q.Since.IsZero() {
		add("time_ns >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("time_ns < ?", q.Until.UnixNano())
	}
	for _, f := range [...]struct{ col, v string }{{"key_name", q.KeyName}, {"principal", q.Principal},
		{"action", q.Action}, {"result", q.Result}, {"kind", string(q.Kind)}} {
		if f.v != "" {
			add(f.col+" = ?", f.v)
		}
	}
	for _, f := range [...]struct {
		col string
		vs  []string
	}{{"result", q.Results}, {"kind", kindStrings(q.Kinds)}} {
		if len(f.vs) > 0 {
			where = append(where, f.col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(f.vs)), ",")+")")
			for _, v := range f.vs {
				args = append(args, v)
			}
		}
	}
	order := "ASC"
	switch {
	case q.Desc:
		order = "DESC"
		if q.AfterSeq > 0 {
			add("seq < ?", int64(q.AfterSeq))
		}
	case q.AfterSeq > 0:
		add("seq > ?", int64(q.AfterSeq))
	}
	limit := q.Limit
	if limit <= 0 || limit > audit.MaxLimit {
		limit = audit.DefaultLimit
	}
	cols := "seq, time_ns, kind, principal, action, key_name, result, hash, body"
	if q.LinksOnly {
		cols = "seq, hash, body"
	}
	var b strings.Builder
	b.WriteString("SELECT " + cols + " FROM audit_events")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY seq " + order + " LIMIT " + strconv.Itoa(limit))
	rows, err := s.db.QueryContext(ctx, s.d.rebind(b.String()), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query events: %w", err)
	}
	defer rows.Close()
	var out []audit.Record
	for rows.Next() {
		var r audit.Record
		var seq int64
		var kind string
		var hash []byte
		if q.LinksOnly {
			err = rows.Scan(&seq, &hash, &r.Body)
		} else {
			err = rows.Scan(&seq, &r.TimeNs, &kind, &r.Principal, &r.Action, &r.KeyName, &r.Result, &hash, &r.Body)
		}
		if err != nil {
			return nil, fmt.Errorf("sqlstore: query events: %w", err)
		}
		r.Seq, r.Kind = uint64(seq), audit.Kind(kind)
		copy(r.Hash[:], hash)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: query events: %w", err)
	}
	return out, nil
}

const checkpointCols = "seq, head, time_ns, key_id, signature, counter, prev"

// Checkpoints implements audit.Store.
func (s *Store) Checkpoints(ctx context.Context, from, to uint64) ([]audit.Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(
		"SELECT "+checkpointCols+" FROM audit_checkpoints WHERE seq >= ? AND seq <= ? ORDER BY seq, time_ns, id"),
		int64(min(from, 1<<63-1)), int64(min(to, 1<<63-1)))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query checkpoints: %w", err)
	}
	defer rows.Close()
	var out []audit.Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: query checkpoints: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: query checkpoints: %w", err)
	}
	return out, nil
}

// LastCheckpoint implements audit.Store.
func (s *Store) LastCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT "+checkpointCols+" FROM audit_checkpoints WHERE counter > 0 ORDER BY counter DESC LIMIT 1")
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("sqlstore: newest checkpoint: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return audit.Checkpoint{}, rows.Err()
	}
	c, err := scanCheckpoint(rows)
	if err != nil {
		return audit.Checkpoint{}, fmt.Errorf("sqlstore: newest checkpoint: %w", err)
	}
	return c, rows.Close()
}

func scanCheckpoint(rows *sql.Rows) (audit.Checkpoint, error) {
	var c audit.Checkpoint
	var seq, ns, counter int64
	var head, prev []byte
	if err := rows.Scan(&seq, &head, &ns, &c.KeyID, &c.Signature, &counter, &prev); err != nil {
		return c, err
	}
	c.Seq, c.Time, c.Counter = uint64(seq), time.Unix(0, ns).UTC(), uint64(counter)
	copy(c.Head[:], head)
	copy(c.Prev[:], prev)
	return c, nil
}
