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
	db *sqldb.DB
}

// New creates the tables if needed.
func New(ctx context.Context, db *sqldb.DB) (*Store, error) {
	schema := []string{
		`CREATE TABLE IF NOT EXISTS keys (
			name TEXT PRIMARY KEY,
			description TEXT NOT NULL,
			spec TEXT NOT NULL,
			usage TEXT NOT NULL,
			backend TEXT NOT NULL,
			state TEXT NOT NULL,
			policy TEXT NOT NULL,
			allow_raw_secret BOOLEAN NOT NULL,
			created_at BIGINT NOT NULL,
			revision BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS key_versions (
			key_name TEXT NOT NULL REFERENCES keys(name),
			version BIGINT NOT NULL,
			state TEXT NOT NULL,
			backend_key_id TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			cert_chain TEXT NOT NULL,
			PRIMARY KEY (key_name, version))`,
		// A backend key belongs to one key version: adopting a key that is
		// already in use would take over its uses (and relabel its
		// ciphertexts). putVersions checks it with a clear message; the
		// index holds it against a race between replicas.
		`CREATE UNIQUE INDEX IF NOT EXISTS key_versions_backend_key_id ON key_versions (backend_key_id)`,
	}
	for _, q := range schema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("key store schema: %w", err)
		}
	}
	return &Store{db: db}, nil
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
			(name, description, spec, usage, backend, state, policy, allow_raw_secret, created_at, revision)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			k.Name, k.Description, string(k.Spec), string(k.Usage), k.Backend, string(k.State),
			string(k.Policy), k.AllowRawSecret, k.CreatedAt.UnixNano(), k.Revision)
		if err != nil {
			return err
		}
		return s.putVersions(ctx, tx, k)
	})
}

func (s *Store) UpdateKey(ctx context.Context, k *keys.Key) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE keys SET description = ?, state = ?, policy = ?,
			allow_raw_secret = ?, revision = ? WHERE name = ? AND revision = ?`),
			k.Description, string(k.State), string(k.Policy), k.AllowRawSecret, k.Revision+1, k.Name, k.Revision)
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
		k.Revision++
		return nil
	})
}

func (s *Store) putVersions(ctx context.Context, tx *sql.Tx, k *keys.Key) error {
	q := s.db.Rebind(`INSERT INTO key_versions (key_name, version, state, backend_key_id, created_at, cert_chain)
		VALUES (?, ?, ?, ?, ?, ?)`)
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
			v.CreatedAt.UnixNano(), string(chain)); err != nil {
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

const keyCols = `name, description, spec, usage, backend, state, policy, allow_raw_secret, created_at, revision`

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
	rows, err := q.QueryContext(ctx, s.db.Rebind(`SELECT key_name, version, state, backend_key_id, created_at, cert_chain
		FROM key_versions WHERE key_name IN (`+in+`) ORDER BY key_name, version`), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name, state, id, chain string
			num, created           int64
		)
		if err := rows.Scan(&name, &num, &state, &id, &created, &chain); err != nil {
			return err
		}
		v := keys.Version{Number: uint32(num), State: keys.VersionState(state), BackendKeyID: id, CreatedAt: time.Unix(0, created).UTC()}
		if err := json.Unmarshal([]byte(chain), &v.CertChain); err != nil {
			return fmt.Errorf("key %q version %d: certificate chain: %w", name, num, err)
		}
		byName[name].Versions = append(byName[name].Versions, v)
	}
	return rows.Err()
}

func scanKey(row interface{ Scan(...any) error }) (*keys.Key, error) {
	var (
		k                  keys.Key
		spec, usage, state string
		policy             string
		created            int64
	)
	if err := row.Scan(&k.Name, &k.Description, &spec, &usage, &k.Backend, &state, &policy,
		&k.AllowRawSecret, &created, &k.Revision); err != nil {
		return nil, err
	}
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
