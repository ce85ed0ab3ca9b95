//go:build !cgo

package pkcs11key

import (
	"context"
	"errors"
	"testing"
)

// Without cgo a valid URI is answered "built without PKCS#11 support",
// and a bad one still gets its own error.
func TestNoCgo(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "pkcs11:token=a;object=b?module-path=/m.so&pin-value=1"); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Open: %v", err)
	}
	if _, err := Generate(ctx, "pkcs11:token=a;object=b?module-path=/m.so", "ECC_NIST_P256"); !errors.Is(err, ErrNoCgo) {
		t.Fatalf("Generate: %v", err)
	}
	if _, err := Open(ctx, "pkcs11:token=a?module-path=/m.so"); err == nil || errors.Is(err, ErrNoCgo) {
		t.Fatalf("a bad URI: %v", err)
	}
}
