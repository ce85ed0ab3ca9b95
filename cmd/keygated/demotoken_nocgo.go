//go:build !cgo

package main

import "errors"

// initDemoToken needs PKCS#11, which a build without cgo lacks.
func initDemoToken(module, label, pin, soPIN string) error {
	return errors.New("keygated demo: built without PKCS#11 support (build with CGO_ENABLED=1)")
}
