//go:build cgo

package pkcs11

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
)

// Backend is a PKCS#11 token. It is safe for concurrent use.
type Backend struct {
	name string
	cfg  Config
	pin  string
	mod  *module
	api  api
	pool *pool
	caps caps
	// cloudHSM selects the CloudHSM profile (cloudhsm.go).
	cloudHSM bool

	closeOnce sync.Once
	// rawOAEP is set once the token has refused OAEP with SHA-256.
	rawOAEP atomic.Bool
}

var _ backends.Backend = (*Backend)(nil)

// Open loads the module (once per process), finds the token, logs in and
// starts the session pool. ctx bounds nothing inside the module (PKCS#11
// calls cannot be interrupted); it is checked before the work starts.
func Open(ctx context.Context, name string, cfg Config) (*Backend, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("backend %q (pkcs11): %w", name, err)
	}
	pin, err := cfg.readPIN()
	if err != nil {
		return nil, fmt.Errorf("backend %q (pkcs11): %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	mod, err := loadModule(cfg.Module)
	if err != nil {
		return nil, fmt.Errorf("backend %q (pkcs11): %w", name, err)
	}
	b := &Backend{name: name, cfg: cfg, pin: pin, mod: mod, api: mod.ctx}
	slot, err := b.findSlot()
	if err != nil {
		mod.release()
		return nil, fmt.Errorf("backend %q (pkcs11): %w", name, err)
	}
	info, err := b.api.GetTokenInfo(slot)
	if err != nil {
		mod.release()
		return nil, fmt.Errorf("backend %q (pkcs11): C_GetTokenInfo: %w", name, err)
	}
	b.cloudHSM = isCloudHSM(cfg.Vendor, info)
	if b.caps, err = readCaps(b.api, slot); err != nil {
		mod.release()
		return nil, fmt.Errorf("backend %q (pkcs11): %s: %w", name, cfg.tokenName(), err)
	}
	// A token without OAEP decrypts with raw RSA and the padding is removed in Go.
	b.rawOAEP.Store(!b.caps.has(p11.CKM_RSA_PKCS_OAEP, p11.CKF_DECRYPT))
	b.pool = newPool(b, slot, cfg.MaxSessions, cfg.SessionWait)
	b.pool.mu.Lock()
	err = b.pool.loginLocked()
	b.pool.mu.Unlock()
	if err != nil {
		mod.release()
		return nil, fmt.Errorf("backend %q (pkcs11): login to %s: %w", name, cfg.tokenName(), err)
	}
	return b, nil
}

// Name is the backend's configured name.
func (b *Backend) Name() string { return b.name }

// Close waits for operations in flight, closes every session and releases
// the module. Calling it again does nothing.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.pool.close()
		b.mod.release()
	})
	return nil
}

// findSlot finds the configured token among the slots with a token present.
func (b *Backend) findSlot() (uint, error) {
	slots, err := b.api.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, slot := range slots {
		if b.cfg.Slot != nil {
			if slot == *b.cfg.Slot {
				return slot, nil
			}
			continue
		}
		info, err := b.api.GetTokenInfo(slot)
		if err != nil {
			return 0, fmt.Errorf("C_GetTokenInfo(slot %d): %w", slot, err)
		}
		if b.cfg.TokenLabel != "" && strings.TrimRight(info.Label, " ") == b.cfg.TokenLabel ||
			b.cfg.TokenSerial != "" && strings.TrimRight(info.SerialNumber, " ") == b.cfg.TokenSerial {
			return slot, nil
		}
	}
	return 0, fmt.Errorf("%s: %w among %d slots with a token", b.cfg.tokenName(), errNoToken, len(slots))
}

// Probe says whether the token serves: a pooled session's info, through
// the pool's recovery, so a probe also brings a returned token back.
func (b *Backend) Probe(ctx context.Context) error {
	return b.pool.withSession(ctx, func(h p11.SessionHandle) error {
		_, err := b.api.GetSessionInfo(h)
		return b.fail("C_GetSessionInfo", "", err)
	})
}
