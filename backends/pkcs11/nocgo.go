//go:build !cgo

package pkcs11

import (
	"context"
	"errors"

	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/backends"
)

// ErrNoCgo is the answer of a keygate built with CGO_ENABLED=0: PKCS#11
// modules are C libraries, loaded through cgo. The backend type is still
// registered so that a config naming it fails with this message rather
// than "unknown type".
var ErrNoCgo = errors.New("built without PKCS#11 support (CGO_ENABLED=0): rebuild keygated with cgo to use a pkcs11 backend")

func init() {
	backends.Register("pkcs11", func(_ context.Context, name string, _ *yaml.Node) (backends.Backend, error) {
		return nil, errors.Join(errors.New("backend \""+name+"\" (pkcs11)"), ErrNoCgo)
	})
}
