// Package fips says how keygate's own cryptography runs: which Go
// Cryptographic Module (Go's FIPS 140-3 module) the binary was built with,
// and whether FIPS 140-3 mode is on. The HSM and KMS keys never touch it;
// it is the ECDH, KDF, JWE, verification and TLS keygated does in process.
//
// Build with GOFIPS140=v1.0.0 (make build-fips) to link the frozen module
// (CMVP certificate #5247) with FIPS 140-3 mode on by default; GODEBUG
// fips140=on|only turns the mode on at run time. See
// https://go.dev/doc/security/fips140.
package fips

import (
	"crypto/fips140"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Status is the module and mode of this process.
type Status struct {
	// Build is the GOFIPS140 the binary was built with, resolved (for
	// example "v1.0.0-c2097c7c"); "" when it was not set (the module in
	// the Go tree, not a frozen one).
	Build string
	// Version is crypto/fips140.Version(): "v1.0.0" for a frozen module,
	// "latest" otherwise.
	Version string
	// Mode is "off", "on" or "only" (GODEBUG fips140; "on" by default in
	// a GOFIPS140 build).
	Mode string
}

// Current is this process's status. The mode cannot change once the
// program has started.
func Current() Status {
	s := Status{Version: fips140.Version(), Mode: "off"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "GOFIPS140" {
				s.Build = kv.Value
			}
		}
	}
	switch {
	case fips140.Enforced():
		s.Mode = "only"
	case fips140.Enabled():
		s.Mode = "on"
	}
	return s
}

// Frozen reports whether the binary links a frozen, versioned module (the
// kind a CMVP certificate names) rather than the Go tree's.
func (s Status) Frozen() bool { return s.Version != "latest" }

// On reports whether FIPS 140-3 mode is on ("on" or "only").
func (s Status) On() bool { return s.Mode != "off" }

// String is one line for --version, the start log and the server.started
// audit event, e.g. "FIPS 140-3 mode on; Go Cryptographic Module v1.0.0
// (GOFIPS140=v1.0.0-c2097c7c)".
func (s Status) String() string {
	build := "GOFIPS140 unset"
	if s.Build != "" {
		build = "GOFIPS140=" + s.Build
	}
	if s.Frozen() {
		return fmt.Sprintf("FIPS 140-3 mode %s; Go Cryptographic Module %s (%s)", s.Mode, s.Version, build)
	}
	return fmt.Sprintf("FIPS 140-3 mode %s; Go Cryptographic Module of %s, not a frozen version (%s)", s.Mode, runtime.Version(), build)
}
