//go:build !cgo

package main

import (
	"errors"

	"github.com/keygate/keygate/backends/pkcs11"
)

// initDemoToken needs PKCS#11, a C library: a keygated built with
// CGO_ENABLED=0 says so instead of failing to link.
func initDemoToken(module, label, pin, soPIN string) error {
	return errors.Join(errors.New("demo token"), pkcs11.ErrNoCgo)
}
