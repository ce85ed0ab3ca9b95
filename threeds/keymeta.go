package threeds

import (
	"context"
	"database/sql"
	"encoding/pem"
	"errors"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/internal/sqldb"
)

// KeyMeta is the 3DS metadata of key versions, beside the key registry:
//
//   - the kids a DS publishes for its encryption key versions, so an
//     sdkEncData is decrypted by the version its header's kid names while
//     SDKs in the field still use an older one (each kid names one key
//     version);
//   - an ACS key version's certificate chains by Directory Server, when one
//     key is certified by several schemes' DS CAs (the version's own chain
//     stays the default).
type KeyMeta struct{ db *sqldb.DB }

// maxKid bounds a kid.
const maxKid = 128

// NewKeyMeta creates the 3DS tables if needed (sqlschema.go).
func NewKeyMeta(ctx context.Context, db *sqldb.DB) (*KeyMeta, error) {
	if err := createSchema(ctx, db); err != nil {
		return nil, err
	}
	return &KeyMeta{db: db}, nil
}

// CheckKid validates a kid: 1 to 128 printable ASCII characters.
func CheckKid(kid string) error {
	if kid == "" || len(kid) > maxKid {
		return kgerr.Errorf(kgerr.InvalidArgument, "kid must be 1 to %d characters", maxKid)
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x20 || kid[i] > 0x7e {
			return kgerr.Errorf(kgerr.InvalidArgument, "kid must be printable ASCII")
		}
	}
	return nil
}

// SetKids makes kids the kids of key version (name, version), replacing
// its earlier ones. A kid that names another key version is AlreadyExists.
func (m *KeyMeta) SetKids(ctx context.Context, name string, version uint32, kids []string) error {
	for _, k := range kids {
		if err := CheckKid(k); err != nil {
			return err
		}
	}
	err := m.db.WriteTx(ctx, func(tx *sql.Tx) error {
		for _, k := range kids {
			var owner string
			var v uint32
			err := tx.QueryRowContext(ctx, m.db.Rebind(`SELECT key_name, version FROM threeds_ds_kids WHERE kid = ?`), k).Scan(&owner, &v)
			if err == nil && (owner != name || v != version) {
				return kgerr.Errorf(kgerr.AlreadyExists, "kid %q already names another DS key version", k)
			}
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, m.db.Rebind(`DELETE FROM threeds_ds_kids WHERE key_name = ? AND version = ?`), name, version); err != nil {
			return err
		}
		for _, k := range kids {
			if _, err := tx.ExecContext(ctx, m.db.Rebind(`INSERT INTO threeds_ds_kids (kid, key_name, version) VALUES (?, ?, ?)`), k, name, version); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil && kgerr.KindOf(err) != kgerr.AlreadyExists {
		return unavailable(err)
	}
	return err
}

// KidOwner is the key version a kid names; NotFound if none.
func (m *KeyMeta) KidOwner(ctx context.Context, kid string) (string, uint32, error) {
	var name string
	var v uint32
	err := m.db.QueryRowContext(ctx, m.db.Rebind(`SELECT key_name, version FROM threeds_ds_kids WHERE kid = ?`), kid).Scan(&name, &v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, NoKidError(kid)
	}
	if err != nil {
		return "", 0, unavailable(err)
	}
	return name, v, nil
}

// NoKidError is the one answer for a kid that names no DS key the caller
// may use, whether it names none or one the caller may not see.
func NoKidError(kid string) error {
	return kgerr.Errorf(kgerr.NotFound, "no DS key has kid %q", kid)
}

// PutChain stores the chain (DER, leaf first, already checked against the
// key version) that Directory Server ds certified for key version (name,
// version), replacing an earlier one for that DS.
func (m *KeyMeta) PutChain(ctx context.Context, name string, version uint32, ds string, chain [][]byte) error {
	if err := checkID(ds, "ds"); err != nil {
		return err
	}
	var p []byte
	for _, der := range chain {
		p = append(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	err := m.db.WriteTx(ctx, func(tx *sql.Tx) error {
		q := `DELETE FROM threeds_acs_chains WHERE key_name = ? AND version = ? AND ds = ?`
		if _, err := tx.ExecContext(ctx, m.db.Rebind(q), name, version, ds); err != nil {
			return err
		}
		q = `INSERT INTO threeds_acs_chains (key_name, version, ds, chain_pem) VALUES (?, ?, ?, ?)`
		_, err := tx.ExecContext(ctx, m.db.Rebind(q), name, version, ds, string(p))
		return err
	})
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// Chain is the chain ds certified for key version (name, version);
// NotFound if there is none.
func (m *KeyMeta) Chain(ctx context.Context, name string, version uint32, ds string) ([][]byte, error) {
	if err := checkID(ds, "ds"); err != nil {
		return nil, err
	}
	var p string
	err := m.db.QueryRowContext(ctx, m.db.Rebind(`SELECT chain_pem FROM threeds_acs_chains WHERE key_name = ? AND version = ? AND ds = ?`),
		name, version, ds).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, kgerr.Errorf(kgerr.NotFound, "key %q version %d has no certificate chain for DS %q", name, version, ds)
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var chain [][]byte
	rest := []byte(p)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return chain, nil
		}
		chain = append(chain, b.Bytes)
	}
}
