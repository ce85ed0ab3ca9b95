//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/backends"
)

// Config is a pkcs11 backend's section of the keygate config file.
type Config struct {
	// Module is the path of the PKCS#11 library (libsofthsm2.so, libcloudhsm_pkcs11.so).
	Module string `yaml:"module"`
	// Exactly one of TokenLabel, TokenSerial and Slot selects the token.
	TokenLabel  string `yaml:"token_label"`
	TokenSerial string `yaml:"token_serial"`
	Slot        *uint  `yaml:"slot"`
	// Exactly one of PINFile and PINEnv holds the user PIN. The PIN itself
	// never appears in the config, in logs or in errors.
	PINFile string `yaml:"pin_file"`
	PINEnv  string `yaml:"pin_env"`
	// MaxSessions bounds the session pool (default 32).
	MaxSessions int `yaml:"max_sessions"`
	// SessionWait is how long a call waits for a free session before it
	// fails with ResourceExhausted (default 5s); the caller's deadline
	// still applies.
	SessionWait time.Duration `yaml:"session_wait"`
	// Vendor selects a profile of vendor rules: "cloudhsm" (AWS CloudHSM
	// Client SDK 5, see cloudhsm.go), "generic" (none), or empty to detect
	// CloudHSM from the token's description.
	Vendor string `yaml:"vendor"`
}

const (
	defaultMaxSessions = 32
	defaultSessionWait = 5 * time.Second
)

func init() {
	backends.Register("pkcs11", func(ctx context.Context, name string, node *yaml.Node) (backends.Backend, error) {
		var cfg Config
		if err := backends.DecodeConfig(node, &cfg); err != nil {
			return nil, fmt.Errorf("backend %q (pkcs11): %w", name, err)
		}
		return Open(ctx, name, cfg)
	})
}

// validate reports every problem in c at once and fills in defaults.
func (c *Config) validate() error {
	var errs []error
	if c.Module == "" {
		errs = append(errs, errors.New("module: required"))
	}
	selectors := 0
	for _, set := range []bool{c.TokenLabel != "", c.TokenSerial != "", c.Slot != nil} {
		if set {
			selectors++
		}
	}
	if selectors != 1 {
		errs = append(errs, fmt.Errorf("exactly one of token_label, token_serial and slot is required (%d given)", selectors))
	}
	if (c.PINFile == "") == (c.PINEnv == "") {
		errs = append(errs, errors.New("exactly one of pin_file and pin_env is required"))
	}
	if c.MaxSessions < 0 {
		errs = append(errs, fmt.Errorf("max_sessions: %d is negative", c.MaxSessions))
	}
	if c.SessionWait < 0 {
		errs = append(errs, fmt.Errorf("session_wait: %s is negative", c.SessionWait))
	}
	switch c.Vendor {
	case vendorAuto, vendorCloudHSM, vendorGeneric:
	default:
		errs = append(errs, fmt.Errorf("vendor %q: want cloudhsm or generic (or leave it out to detect)", c.Vendor))
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = defaultMaxSessions
	}
	if c.SessionWait == 0 {
		c.SessionWait = defaultSessionWait
	}
	return errors.Join(errs...)
}

// readPIN reads the PIN from its source. Errors name the source only.
func (c *Config) readPIN() (string, error) {
	if c.PINFile != "" {
		raw, err := os.ReadFile(c.PINFile)
		if err != nil {
			return "", fmt.Errorf("pin_file: %w", err)
		}
		pin := strings.TrimRight(string(raw), "\r\n")
		if pin == "" {
			return "", fmt.Errorf("pin_file %s: empty", c.PINFile)
		}
		return pin, nil
	}
	pin := os.Getenv(c.PINEnv)
	if pin == "" {
		return "", fmt.Errorf("pin_env: environment variable %s is not set or empty", c.PINEnv)
	}
	return pin, nil
}

// tokenName describes the configured token selector for messages.
func (c *Config) tokenName() string {
	switch {
	case c.TokenLabel != "":
		return fmt.Sprintf("token labelled %q", c.TokenLabel)
	case c.TokenSerial != "":
		return fmt.Sprintf("token with serial %q", c.TokenSerial)
	case c.Slot != nil:
		return fmt.Sprintf("token in slot %d", *c.Slot)
	}
	return "token"
}
