package sqlstore

import (
	"context"
	"crypto/sha256"
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
	return s.records(ctx, s.db, q)
}

// records reads one page of records through db or a transaction. The
// string filters compare ids: a string never stored matches nothing.
// LinksOnly saves nothing here: the body is rebuilt from the row.
func (s *Store) records(ctx context.Context, db querier, q audit.Query) ([]audit.Record, error) {
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
		if f.v != "" && s.oldLayout {
			add(f.col+" = ?", f.v)
		} else if f.v != "" {
			add(f.col+" = (SELECT id FROM audit_strings WHERE s = ?)", f.v)
		}
	}
	for _, f := range [...]struct {
		col string
		vs  []string
	}{{"result", q.Results}, {"kind", kindStrings(q.Kinds)}} {
		if len(f.vs) > 0 {
			in := strings.TrimSuffix(strings.Repeat("?,", len(f.vs)), ",")
			if !s.oldLayout {
				in = "SELECT id FROM audit_strings WHERE s IN (" + in + ")"
			}
			where = append(where, f.col+" IN ("+in+")")
			for _, v := range f.vs {
				args = append(args, v)
			}
		}
	}
	if q.ThroughSeq > 0 {
		add("seq <= ?", int64(q.ThroughSeq))
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
	var b strings.Builder
	b.WriteString("SELECT seq, time_ns, kind, principal, action, key_name, result, body")
	if s.oldLayout {
		b.WriteString(", hash")
	}
	b.WriteString(" FROM audit_events")
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY seq " + order + " LIMIT " + strconv.Itoa(limit))
	if s.oldLayout {
		return oldRecords(ctx, db, s.d.rebind(b.String()), args)
	}
	rows, err := db.QueryContext(ctx, s.d.rebind(b.String()), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query events: %w", err)
	}
	defer rows.Close()
	type row struct {
		seq, time int64
		cols      [5]int64 // kind, principal, action, key name, result
		body      []byte
	}
	var page []row
	var ids []uint64
	for rows.Next() {
		var r row
		var cols [5]any // SQLite keeps whatever was written: a non-integer id is a missing string
		if err := rows.Scan(&r.seq, &r.time, &cols[0], &cols[1], &cols[2], &cols[3], &cols[4], &r.body); err != nil {
			return nil, fmt.Errorf("sqlstore: query events: %w", err)
		}
		for j, v := range cols {
			id, ok := v.(int64)
			if !ok {
				id = -1
			}
			r.cols[j] = id
		}
		for _, id := range r.cols {
			ids = append(ids, uint64(id))
		}
		// A body that does not parse is returned as it is stored, for
		// verification to report as malformed.
		ids, _ = storedRefs(r.body, ids)
		page = append(page, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: query events: %w", err)
	}
	rows.Close()
	strs, err := s.lookupStrings(ctx, db, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: query events: %w", err)
	}
	str := resolver(strs)
	out := make([]audit.Record, len(page))
	for i := range page {
		r, o := &page[i], &out[i]
		o.Seq, o.TimeNs = uint64(r.seq), r.time
		// A missing string or a body that does not parse leaves the
		// record as stored (an empty column, the stored body), for
		// verification to report where it is.
		var names [5]string
		missing := false
		for j, id := range r.cols {
			if names[j], err = str(uint64(id)); err != nil {
				missing = true
			}
		}
		o.Kind, o.Principal, o.Action, o.KeyName, o.Result = audit.Kind(names[0]), names[1], names[2], names[3], names[4]
		if o.Body, err = expand(r.body, o, str); err != nil || missing {
			o.Body = r.body
		}
		o.Hash = sha256.Sum256(o.Body)
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
