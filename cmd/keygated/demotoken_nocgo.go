//go:build !cgo

package main

import "errors"

// initDemoToken needs PKCS#11, which a CGO_ENABLED=0 build lacks (as the
// pkcs11 backend says too).
func initDemoToken(module, label, pin, soPIN string) error {
	return errors.New("keygated demo: built without PKCS#11 support (CGO_ENABLED=0): the demo token cannot be initialised")
}
