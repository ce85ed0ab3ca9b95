package threeds

import (
	"context"
	"fmt"

	"github.com/keygate/keygate/internal/sqldb"
)

// ---- threeds schema: the one place where the 3DS tables are created ----
//
// To be folded into the store's numbered migrations. threeds_challenge_sessions
// replaces threeds_sessions (which had no counters_mac column); sessions
// live minutes, so the old table holds nothing worth moving and can be
// dropped by the migration.
func createSchema(ctx context.Context, db *sqldb.DB) error {
	_, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS threeds_challenge_sessions (
		id TEXT PRIMARY KEY,
		seal_key_id TEXT NOT NULL,
		sealed `+db.Blob()+` NOT NULL,
		sdk_counter INTEGER NOT NULL,
		acs_counter INTEGER NOT NULL,
		counters_mac `+db.Blob()+` NOT NULL,
		expiry_ns BIGINT NOT NULL)`)
	if err != nil {
		return fmt.Errorf("3DS session store schema: %w", err)
	}
	// The next HOTP counter / TOTP step each OTP key may accept (otpstore.go).
	_, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS threeds_otp_counters (
		id TEXT PRIMARY KEY,
		next_counter BIGINT NOT NULL)`)
	if err != nil {
		return fmt.Errorf("3DS OTP store schema: %w", err)
	}
	// The kids of DS key versions and the per-DS chains of ACS key versions
	// (keymeta.go): key-model data, to move beside the key versions when
	// the store has migrations.
	for _, ddl := range []string{`CREATE TABLE IF NOT EXISTS threeds_ds_kids (
		kid TEXT PRIMARY KEY,
		key_name TEXT NOT NULL,
		version INTEGER NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS threeds_acs_chains (
		key_name TEXT NOT NULL,
		version INTEGER NOT NULL,
		ds TEXT NOT NULL,
		chain_pem TEXT NOT NULL,
		PRIMARY KEY (key_name, version, ds))`} {
		if _, err := db.ExecContext(ctx, ddl); err != nil {
			return fmt.Errorf("3DS key metadata schema: %w", err)
		}
	}
	return nil
}
