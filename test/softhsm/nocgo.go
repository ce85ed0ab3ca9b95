//go:build !cgo

package softhsm

import "testing"

// Token is an initialised token with a user PIN set.
type Token struct {
	Module, Label, PIN, SOPIN string
}

// New fails the test: SoftHSM2 is reached through PKCS#11, which needs cgo.
func New(tb testing.TB) Token {
	tb.Helper()
	tb.Fatal("softhsm: this test binary was built with CGO_ENABLED=0; SoftHSM2 is reached through PKCS#11, which needs cgo")
	return Token{}
}

// Objects fails the test, as New does.
func (t Token) Objects(tb testing.TB, label string) int {
	tb.Helper()
	tb.Fatal("softhsm: built with CGO_ENABLED=0")
	return 0
}

// ImportSecret fails the test, as New does.
func (tok Token) ImportSecret(tb testing.TB, label string, value []byte) string {
	tb.Helper()
	tb.Fatal("softhsm: built with CGO_ENABLED=0")
	return ""
}
