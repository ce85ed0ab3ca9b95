//go:build !cgo

package pkcs11key

import (
	"context"
	"crypto"
	"errors"
	"io"
)

// ErrNoCgo is the answer of a build with CGO_ENABLED=0: PKCS#11 modules are
// C libraries, loaded through cgo.
var ErrNoCgo = errors.New("pkcs11: built without PKCS#11 support (CGO_ENABLED=0): rebuild with cgo to use a client key on a token")

// Specs are the key specs Generate makes, in keygate's (KMS's) names.
var Specs = []string{"ECC_NIST_P256", "ECC_NIST_P384", "RSA_2048", "RSA_3072"}

// Key is a private key in a PKCS#11 token; without cgo none can be opened.
type Key struct{}

// Open says the build has no PKCS#11 support, after checking the URI.
func Open(_ context.Context, uri string, _ ...Option) (*Key, error) {
	if _, err := ParseURI(uri); err != nil {
		return nil, err
	}
	return nil, ErrNoCgo
}

// Generate says the build has no PKCS#11 support.
func Generate(ctx context.Context, uri, _ string, opts ...Option) (*Key, error) {
	return Open(ctx, uri, opts...)
}

func (*Key) Public() crypto.PublicKey                                  { return nil }
func (*Key) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, ErrNoCgo }
func (*Key) URI() string                                               { return "" }
func (*Key) Close() error                                              { return nil }
