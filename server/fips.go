package server

import (
	"fmt"
	"log/slog"

	"github.com/keygate/keygate/internal/fips"
)

// checkFIPS logs which Go Cryptographic Module keygated's own cryptography
// (ECDH, the 3DS KDF, JWE, local verification, TLS) runs in, and refuses
// to start when require_fips is set and FIPS 140-3 mode is off. The HSM
// and KMS keys are not affected either way: their operations happen in
// the backend's own boundary.
func checkFIPS(cfg *Config, log *slog.Logger) error {
	st := fips.Current()
	if cfg.RequireFIPS && !st.On() {
		return fmt.Errorf("require_fips: %s; build with GOFIPS140 (make build-fips) or run with GODEBUG=fips140=on", st)
	}
	log.Info("cryptography", "fips140", st.String())
	if cfg.RequireFIPS && !st.Frozen() {
		log.Warn("require_fips: FIPS 140-3 mode is on, but the module is the Go tree's, not a frozen (validated) one; build with GOFIPS140=v1.0.0", "fips140", st.String())
	}
	return nil
}
