package fips

import (
	"crypto/fips140"
	"runtime"
	"testing"
)

func TestString(t *testing.T) {
	for _, tc := range []struct {
		s    Status
		want string
	}{
		{Status{Build: "v1.0.0-c2097c7c", Version: "v1.0.0", Mode: "on"}, "FIPS 140-3 mode on; Go Cryptographic Module v1.0.0 (GOFIPS140=v1.0.0-c2097c7c)"},
		{Status{Build: "v1.0.0-c2097c7c", Version: "v1.0.0", Mode: "off"}, "FIPS 140-3 mode off; Go Cryptographic Module v1.0.0 (GOFIPS140=v1.0.0-c2097c7c)"},
		{Status{Build: "latest", Version: "latest", Mode: "on"}, "FIPS 140-3 mode on; Go Cryptographic Module of " + runtime.Version() + ", not a frozen version (GOFIPS140=latest)"},
		{Status{Version: "latest", Mode: "only"}, "FIPS 140-3 mode only; Go Cryptographic Module of " + runtime.Version() + ", not a frozen version (GOFIPS140 unset)"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.s, got, tc.want)
		}
	}
}

// Current agrees with crypto/fips140 in whatever mode the test runs (make
// fips-test runs this package's importers with the frozen module and
// under fips140=only).
func TestCurrent(t *testing.T) {
	s := Current()
	if s.On() != fips140.Enabled() || (s.Mode == "only") != fips140.Enforced() || s.Version != fips140.Version() {
		t.Fatalf("%+v, but crypto/fips140 says enabled %v, enforced %v, version %s", s, fips140.Enabled(), fips140.Enforced(), fips140.Version())
	}
	if s.Frozen() && s.Build == "" {
		t.Fatalf("%+v: a frozen module without GOFIPS140 in the build info", s)
	}
}
