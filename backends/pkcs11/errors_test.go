//go:build cgo

package pkcs11

import (
	"context"
	"sync"
	"testing"

	"github.com/keygate/keygate/internal/kgerr"
	p11 "github.com/miekg/pkcs11"
)

// faultAPI makes C_Sign fail with queued return codes, as a failing HSM
// would, and otherwise passes calls to the real module.
type faultAPI struct {
	api
	mu     sync.Mutex
	faults []uint
	signs  int
}

func (f *faultAPI) Sign(s p11.SessionHandle, msg []byte) ([]byte, error) {
	f.mu.Lock()
	f.signs++
	var code uint
	if len(f.faults) > 0 {
		code, f.faults = f.faults[0], f.faults[1:]
	}
	f.mu.Unlock()
	if code != 0 {
		return nil, p11.Error(code)
	}
	return f.api.Sign(s, msg)
}

func TestTokenErrors(t *testing.T) {
	cfg, _ := testConfig(t)
	b, k := signingKey(t, cfg)
	fault := &faultAPI{api: b.api}
	b.api = fault
	for _, tc := range []struct {
		name   string
		faults []uint
		kind   kgerr.Kind // -1: success
		signs  int
	}{
		{"device removed once: recovered and retried", []uint{p11.CKR_DEVICE_REMOVED}, -1, 2},
		{"session invalid once: recovered and retried", []uint{p11.CKR_SESSION_HANDLE_INVALID}, -1, 2},
		{"not logged in once: recovered and retried", []uint{p11.CKR_USER_NOT_LOGGED_IN}, -1, 2},
		{"token gone twice: one retry only", []uint{p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_TOKEN_NOT_PRESENT}, kgerr.Unavailable, 2},
		{"device error", []uint{p11.CKR_DEVICE_ERROR}, kgerr.Unavailable, 1},
		{"function failed", []uint{p11.CKR_FUNCTION_FAILED}, kgerr.Internal, 1},
	} {
		fault.mu.Lock()
		fault.faults, fault.signs = tc.faults, 0
		fault.mu.Unlock()
		err := signOK(context.Background(), k)
		switch {
		case tc.kind == -1 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.kind != -1 && kgerr.KindOf(err) != tc.kind:
			t.Errorf("%s: %v, want kind %s", tc.name, err, tc.kind)
		}
		if fault.signs != tc.signs {
			t.Errorf("%s: C_Sign called %d times, want %d", tc.name, fault.signs, tc.signs)
		}
		if err != nil && kgerr.Message(err) == "" {
			t.Errorf("%s: no caller-safe message", tc.name)
		}
	}
	// The backend is healthy afterwards.
	if err := signOK(context.Background(), k); err != nil {
		t.Fatal(err)
	}
}
