package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Strings that recur from event to event (principals, key names, the
// connection's certificate subject, serial and peer, algorithms...) are
// stored once, in audit_strings, and rows and compact bodies refer to
// them by id; id 0 is the empty string and has no row. Ids are never
// reused or deleted (pruning keeps them), so a committed id always means
// the same string.

// maxCachedStrings bounds the writer's cache of committed ids; peers (one
// per connection) would otherwise grow it without end.
const maxCachedStrings = 1 << 16

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// txStrings gives strings their ids inside one append transaction, which
// holds the chain head's lock: no other writer adds strings meanwhile.
// Ids it adds are known to the store's cache only once the transaction
// has committed (commit), so a rolled-back id is never reused from memory.
type txStrings struct {
	s       *Store
	ctx     context.Context
	tx      *sql.Tx
	pending map[string]uint64
}

func (s *Store) txStrings(ctx context.Context, tx *sql.Tx) *txStrings {
	return &txStrings{s: s, ctx: ctx, tx: tx}
}

// ref returns str's id, adding it to audit_strings if it is new.
func (t *txStrings) ref(str string) (uint64, error) {
	if str == "" {
		return 0, nil
	}
	if id, ok := t.pending[str]; ok {
		return id, nil
	}
	t.s.mu.Lock()
	id, ok := t.s.ids[str]
	t.s.mu.Unlock()
	if ok {
		return id, nil
	}
	var n int64
	err := t.tx.QueryRowContext(t.ctx, t.s.d.rebind("SELECT id FROM audit_strings WHERE s = ?"), str).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		err = t.tx.QueryRowContext(t.ctx, t.s.d.rebind("INSERT INTO audit_strings (s) VALUES (?) RETURNING id"), str).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("string id: %w", err)
	}
	if t.pending == nil {
		t.pending = map[string]uint64{}
	}
	t.pending[str] = uint64(n)
	return uint64(n), nil
}

// commit tells the store's cache the ids of a committed transaction.
func (t *txStrings) commit() {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if len(t.s.ids)+len(t.pending) > maxCachedStrings {
		clear(t.s.ids)
	}
	for k, v := range t.pending {
		t.s.ids[k] = v
	}
}

// lookupStrings reads the strings with the given ids from the database (a
// reader never trusts a cache: verification must see what is stored).
func (s *Store) lookupStrings(ctx context.Context, q querier, ids []uint64) (map[uint64]string, error) {
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 && ids[0] == 0 {
		ids = ids[1:]
	}
	out := make(map[uint64]string, len(ids)+1)
	out[0] = ""
	const chunk = 500
	for len(ids) > 0 {
		part := ids[:min(chunk, len(ids))]
		ids = ids[len(part):]
		args := make([]any, len(part))
		for i, id := range part {
			args[i] = int64(id)
		}
		query := "SELECT id, s FROM audit_strings WHERE id IN (?" + strings.Repeat(",?", len(part)-1) + ")"
		rows, err := q.QueryContext(ctx, s.d.rebind(query), args...)
		if err != nil {
			return nil, fmt.Errorf("reading strings: %w", err)
		}
		for rows.Next() {
			var id int64
			var str string
			if err := rows.Scan(&id, &str); err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading strings: %w", err)
			}
			out[uint64(id)] = str
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("reading strings: %w", err)
		}
	}
	return out, nil
}

// resolver turns a lookup map into expand's str function.
func resolver(m map[uint64]string) func(uint64) (string, error) {
	return func(id uint64) (string, error) {
		s, ok := m[id]
		if !ok {
			return "", fmt.Errorf("%w: string %d is missing from audit_strings", errCompact, id)
		}
		return s, nil
	}
}
