// Package sqlstore keeps the key registry in keygate's SQL store (SQLite,
// or the PostgreSQL that replicas share), apart from package keys so that
// what imports the key model does not import the database drivers.
package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/keys"
)

// Store is the keys.Store on SQLite or PostgreSQL.
type Store struct {
	db      *sqldb.DB
	journal Journal
}

// A Journal records a change to the registry inside the change's own
// transaction (the audit log shares the database): if it fails, the change
// is not made, and a change is never made without its record. before is
// nil for a new key; after has its new revision.
type Journal func(ctx context.Context, tx *sql.Tx, before, after *keys.Key) error

// SetJournal makes every later CreateKey and UpdateKey call j in its
// transaction. Set it before the store is shared.
func (s *Store) SetJournal(j Journal) { s.journal = j }

// New brings the store's schema up to date (migrate.go) and opens it.
func New(ctx context.Context, db *sqldb.DB) (*Store, error) {
	if _, err := migrate(ctx, db); err != nil {
		if dup := sharedBackendKeys(ctx, db); dup != "" {
			return nil, fmt.Errorf("key store: %s; a backend key may serve one key version only (an adopted key took over another): resolve it before upgrading", dup)
		}
		return nil, err
	}
	return &Store{db: db}, nil
}

// sharedBackendKeys names a backend key that several key versions use, as a
// store written before the unique index may hold; "" if there is none.
func sharedBackendKeys(ctx context.Context, db *sqldb.DB) string {
	var id string
	var n int
	err := db.QueryRowContext(ctx, `SELECT backend_key_id, COUNT(*) FROM key_versions
		GROUP BY backend_key_id HAVING COUNT(*) > 1 ORDER BY backend_key_id LIMIT 1`).Scan(&id, &n)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("backend key %q serves %d key versions", id, n)
}

func (s *Store) CreateKey(ctx context.Context, k *keys.Key) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM keys WHERE name = ?`), k.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return kgerr.Errorf(kgerr.AlreadyExists, "key %q already exists", k.Name)
		}
		_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO keys
			(name, description, spec, usage, backend, state, policy, allow_raw_secret, created_at, revision,
			rotation_period_ns, cryptoperiod_ns, trust_anchors, dual_control)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			k.Name, k.Description, string(k.Spec), string(k.Usage), k.Backend, string(k.State),
			string(k.Policy), k.AllowRawSecret, k.CreatedAt.UnixNano(), k.Revision,
			int64(k.RotationPeriod), int64(k.Cryptoperiod), anchorsJSON(k), dualJSON(k))
		if err != nil {
			return err
		}
		if err := s.putVersions(ctx, tx, k); err != nil {
			return err
		}
		if s.journal != nil {
			return s.journal(ctx, tx, nil, k)
		}
		return nil
	})
}

func (s *Store) UpdateKey(ctx context.Context, k *keys.Key) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var before *keys.Key
		if s.journal != nil {
			var err error
			if before, err = s.getKey(ctx, tx, k.Name); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE keys SET description = ?, state = ?, policy = ?,
			allow_raw_secret = ?, revision = ?, rotation_period_ns = ?, cryptoperiod_ns = ?, trust_anchors = ?,
			dual_control = ? WHERE name = ? AND revision = ?`),
			k.Description, string(k.State), string(k.Policy), k.AllowRawSecret, k.Revision+1,
			int64(k.RotationPeriod), int64(k.Cryptoperiod), anchorsJSON(k), dualJSON(k), k.Name, k.Revision)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			if _, err := s.getKey(ctx, tx, k.Name); err != nil {
				return err
			}
			return kgerr.Errorf(kgerr.FailedPrecondition, "key %q was changed concurrently; retry", k.Name)
		}
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`DELETE FROM key_versions WHERE key_name = ?`), k.Name); err != nil {
			return err
		}
		if err := s.putVersions(ctx, tx, k); err != nil {
			return err
		}
		after := *k
		after.Revision++
		if s.journal != nil {
			if err := s.journal(ctx, tx, before, &after); err != nil {
				return err
			}
		}
		k.Revision++
		return nil
	})
}

func (s *Store) putVersions(ctx context.Context, tx *sql.Tx, k *keys.Key) error {
	q := s.db.Rebind(`INSERT INTO key_versions (key_name, version, state, backend_key_id, created_at, cert_chain, deletion_at, origin, token_attrs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	taken := s.db.Rebind(`SELECT COUNT(*) FROM key_versions WHERE backend_key_id = ? AND key_name <> ?`)
	seen := map[string]bool{}
	for _, v := range k.Versions {
		var n int
		if err := tx.QueryRowContext(ctx, taken, v.BackendKeyID, k.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 || seen[v.BackendKeyID] {
			return kgerr.Errorf(kgerr.AlreadyExists, "backend key %q already belongs to a key version; a backend key serves one key version only", v.BackendKeyID)
		}
		seen[v.BackendKeyID] = true
		chain, err := json.Marshal(v.CertChain) // [][]byte as base64 strings
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, k.Name, int64(v.Number), string(v.State), v.BackendKeyID,
			v.CreatedAt.UnixNano(), string(chain), unixNano(v.DeletionAt), v.Origin, tokenJSON(v.Token)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) GetKey(ctx context.Context, name string) (*keys.Key, error) {
	return s.getKey(ctx, s.db, name)
}

type querier interface {
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

const keyCols = `name, description, spec, usage, backend, state, policy, allow_raw_secret, created_at, revision,
	rotation_period_ns, cryptoperiod_ns, trust_anchors, dual_control`

func (s *Store) getKey(ctx context.Context, q querier, name string) (*keys.Key, error) {
	k, err := scanKey(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+keyCols+` FROM keys WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kgerr.Errorf(kgerr.NotFound, "key %q not found", name)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	if err := s.loadVersions(ctx, q, []*keys.Key{k}); err != nil {
		return nil, storeErr(err)
	}
	return k, nil
}

func (s *Store) ListKeys(ctx context.Context, after string, limit int) ([]*keys.Key, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+keyCols+` FROM keys WHERE name > ? ORDER BY name LIMIT ?`), after, limit)
	if err != nil {
		return nil, storeErr(err)
	}
	defer rows.Close()
	var out []*keys.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, storeErr(err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, storeErr(err)
	}
	rows.Close()
	if err := s.loadVersions(ctx, s.db, out); err != nil {
		return nil, storeErr(err)
	}
	return out, nil
}

func (s *Store) loadVersions(ctx context.Context, q querier, ks []*keys.Key) error {
	if len(ks) == 0 {
		return nil
	}
	byName := make(map[string]*keys.Key, len(ks))
	args := make([]any, len(ks))
	for i, k := range ks {
		byName[k.Name] = k
		args[i] = k.Name
	}
	in := strings.TrimSuffix(strings.Repeat("?,", len(ks)), ",")
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT key_name, version, state, backend_key_id, created_at, cert_chain, deletion_at, origin, token_attrs
		FROM key_versions WHERE key_name IN (`+in+`) ORDER BY key_name, version`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name, state, id, chain, origin, token string
			num, created, deletion                int64
		)
		if err := rows.Scan(&name, &num, &state, &id, &created, &chain, &deletion, &origin, &token); err != nil {
			return err
		}
		v := keys.Version{Number: uint32(num), State: keys.VersionState(state), BackendKeyID: id, CreatedAt: time.Unix(0, created).UTC(), Origin: origin}
		if deletion != 0 {
			v.DeletionAt = time.Unix(0, deletion).UTC()
		}
		if err := json.Unmarshal([]byte(chain), &v.CertChain); err != nil {
			return fmt.Errorf("key %q version %d: certificate chain: %w", name, num, err)
		}
		if token != "" {
			v.Token = new(keys.TokenAttrs)
			if err := json.Unmarshal([]byte(token), v.Token); err != nil {
				return fmt.Errorf("key %q version %d: token attributes: %w", name, num, err)
			}
		}
		byName[name].Versions = append(byName[name].Versions, v)
	}
	return rows.Err()
}

// tokenJSON stores a version's PKCS#11 attributes, "" when not recorded.
func tokenJSON(t *keys.TokenAttrs) string {
	if t == nil {
		return ""
	}
	b, _ := json.Marshal(t) // three booleans cannot fail
	return string(b)
}

// anchorsJSON stores DER certificates as a JSON array of base64 strings.
func anchorsJSON(k *keys.Key) string {
	b, _ := json.Marshal(k.TrustAnchors) // [][]byte cannot fail
	return string(b)
}

// dualJSON stores the per-key dual control list; null means the default.
func dualJSON(k *keys.Key) string {
	b, _ := json.Marshal(k.DualControl)
	return string(b)
}

// unixNano stores the zero time as 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func scanKey(row interface{ Scan(...any) error }) (*keys.Key, error) {
	var (
		k                     keys.Key
		spec, usage, state    string
		policy, anchors, dual string
		created, rot, cp      int64
	)
	if err := row.Scan(&k.Name, &k.Description, &spec, &usage, &k.Backend, &state, &policy,
		&k.AllowRawSecret, &created, &k.Revision, &rot, &cp, &anchors, &dual); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(dual), &k.DualControl); err != nil {
		return nil, fmt.Errorf("key %q: dual control: %w", k.Name, err)
	}
	if err := json.Unmarshal([]byte(anchors), &k.TrustAnchors); err != nil {
		return nil, fmt.Errorf("key %q: trust anchors: %w", k.Name, err)
	}
	k.RotationPeriod, k.Cryptoperiod = time.Duration(rot), time.Duration(cp)
	k.Spec, k.Usage, k.State = keys.Spec(spec), keys.Usage(usage), keys.KeyState(state)
	if policy != "" {
		k.Policy = []byte(policy)
	}
	k.CreatedAt = time.Unix(0, created).UTC()
	return &k, nil
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	return storeErr(s.db.WriteTx(ctx, fn))
}

// storeErr hides database details from callers: the store is either there
// or it is not.
func storeErr(err error) error {
	if err == nil {
		return nil
	}
	var e *kgerr.Error
	if errors.As(err, &e) {
		return err
	}
	if k := kgerr.KindOf(err); k == kgerr.DeadlineExceeded || k == kgerr.Canceled {
		return err
	}
	return kgerr.Wrap(kgerr.Unavailable, err, "key store unavailable")
}
