package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"

	"github.com/keygate/keygate/keys"
)

// PolicyVersion is one policy a key had: set by the audit event at Seq.
type PolicyVersion struct {
	Seq    uint64
	SHA256 string // hex, of Policy
	Policy []byte
}

// PolicySHA256 is the hex SHA-256 of a policy document, as the history
// and the audit event that set it name it.
func PolicySHA256(policy []byte) string {
	sum := sha256.Sum256(policy)
	return hex.EncodeToString(sum[:])
}

// RecordPolicy keeps policy as key's policy from the audit event at seq,
// in tx: the journal's transaction, so the document commits with its event.
func (s *Store) RecordPolicy(ctx context.Context, tx *sql.Tx, key string, seq uint64, policy []byte) error {
	_, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO key_policy_history (key_name, seq, sha256, policy) VALUES (?, ?, ?, ?)`),
		key, int64(seq), PolicySHA256(policy), string(policy))
	return err
}

// PolicyHistory returns every policy key had, oldest first.
func (s *Store) PolicyHistory(ctx context.Context, key string) ([]PolicyVersion, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq, sha256, policy FROM key_policy_history WHERE key_name = ? ORDER BY seq`), key)
	if err != nil {
		return nil, storeErr(err)
	}
	defer rows.Close()
	var out []PolicyVersion
	for rows.Next() {
		var v PolicyVersion
		var seq int64
		var doc string
		if err := rows.Scan(&seq, &v.SHA256, &doc); err != nil {
			return nil, storeErr(err)
		}
		v.Seq, v.Policy = uint64(seq), []byte(doc)
		out = append(out, v)
	}
	return out, storeErr(rows.Err())
}

// WithKey runs fn with key name as stored, in a write transaction: what fn
// records about the row (an audit event) commits only if no change came
// between.
func (s *Store) WithKey(ctx context.Context, name string, fn func(tx *sql.Tx, k *keys.Key) error) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		k, err := s.getKey(ctx, tx, name)
		if err != nil {
			return err
		}
		return fn(tx, k)
	})
}
