//go:build !cgo

package opencryptoki

// hold has nothing to hold without cgo: no PKCS#11 module can be loaded.
func hold(string) error { return nil }
