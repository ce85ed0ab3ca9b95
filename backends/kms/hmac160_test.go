package kms

import (
	"context"
	"strings"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// KMS has no SHA-1 HMAC keys: HMAC_160 (for RFC 4226 HOTP) is refused
// before any call, saying where such keys can be made.
func TestNoSHA1HMACOnKMS(t *testing.T) {
	f := newFixture(t, Options{})
	_, err := f.b.CreateKey(context.Background(), backends.CreateRequest{Spec: keys.HMAC160, Usage: keys.GenerateVerifyMac, Label: "otp/v1"})
	wantKind(t, err, kgerr.FailedPrecondition)
	if !strings.Contains(kgerr.Message(err), "PKCS#11") {
		t.Fatalf("message: %q", kgerr.Message(err))
	}
}
