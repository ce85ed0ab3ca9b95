//go:build !cgo

package pkcs11

import (
	"context"
	"errors"
	"testing"

	"github.com/keygate/keygate/backends"
)

// TestBuiltWithoutCgo: without cgo the pkcs11 type exists and says why it
// cannot open (make test runs this with CGO_ENABLED=0).
func TestBuiltWithoutCgo(t *testing.T) {
	_, err := backends.Open(context.Background(), "pkcs11", "hsm", nil)
	if !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Open without cgo: %v, want ErrNoCgo", err)
	}
}
