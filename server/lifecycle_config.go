package server

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keygate/keygate/keys"
)

// LifecycleConfig holds the key lifecycle's defaults:
//
//	lifecycle:
//	  cryptoperiods_days: {SIGN_VERIFY: 730, ENCRYPT_DECRYPT: 365}
//	  rotation_check: 1m
type LifecycleConfig struct {
	// CryptoperiodsDays are the default cryptoperiods by key usage, for
	// keys created without one of their own (1-3650 days).
	CryptoperiodsDays map[string]int `yaml:"cryptoperiods_days"`
	// RotationCheck is how often keygated looks for keys due for automatic
	// rotation and for overdue cryptoperiods (default 1m).
	RotationCheck time.Duration `yaml:"rotation_check"`
	// DualControl names the operations that need a second admin's
	// approval on keys that do not say otherwise: ActivateKeyVersion,
	// ScheduleKeyVersionDeletion, PutKeyPolicy; and AdoptKey (CreateKey
	// over an existing backend key), which concerns no key yet and so
	// follows this setting alone.
	DualControl []string `yaml:"dual_control"`
	// ApprovalTTL is how long a pending approval may wait (default 24h).
	ApprovalTTL time.Duration `yaml:"approval_ttl"`
}

// dualOps are the operations dual control can hold back.
var dualOps = []string{"ActivateKeyVersion", "ScheduleKeyVersionDeletion", "PutKeyPolicy", adoptOp}

func (c *LifecycleConfig) defaults() {
	if c.RotationCheck == 0 {
		c.RotationCheck = time.Minute
	}
	if c.ApprovalTTL == 0 {
		c.ApprovalTTL = 24 * time.Hour
	}
}

func (c *LifecycleConfig) problems() []string {
	var p []string
	usages := make([]string, 0, len(c.CryptoperiodsDays))
	for u := range c.CryptoperiodsDays {
		usages = append(usages, u)
	}
	sort.Strings(usages)
	for _, u := range usages {
		if !keys.Usage(u).Valid() {
			p = append(p, fmt.Sprintf("lifecycle.cryptoperiods_days: %q is not a key usage", u))
		} else if d := c.CryptoperiodsDays[u]; d < 1 || d > 3650 {
			p = append(p, fmt.Sprintf("lifecycle.cryptoperiods_days.%s must be 1 to 3650 days", u))
		}
	}
	if c.RotationCheck < 0 {
		p = append(p, "lifecycle.rotation_check must not be negative")
	}
	for i, op := range c.DualControl {
		if !slices.Contains(dualOps, op) {
			p = append(p, fmt.Sprintf("lifecycle.dual_control[%d] %q: want one of %s", i, op, strings.Join(dualOps, ", ")))
		}
	}
	if c.ApprovalTTL < 0 || c.ApprovalTTL > 30*24*time.Hour {
		p = append(p, "lifecycle.approval_ttl must be between 0 and 720h")
	}
	return p
}

// cryptoperiod is a key's own cryptoperiod, else its usage's default.
func (c *Config) cryptoperiod(k *keys.Key) time.Duration {
	if k.Cryptoperiod != 0 {
		return k.Cryptoperiod
	}
	return time.Duration(c.Lifecycle.CryptoperiodsDays[string(k.Usage)]) * 24 * time.Hour
}
