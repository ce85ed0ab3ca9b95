//go:build !cgo

package main

import "errors"

// initDemoToken needs PKCS#11, which needs cgo.
func initDemoToken(module, label, pin, soPIN string) error {
	return errors.New("keygated was built without PKCS#11 support (CGO_ENABLED=0): the demo token cannot be made")
}
