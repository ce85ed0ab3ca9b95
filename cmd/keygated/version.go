package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/keygate/keygate/internal/fips"
)

// versionText is what `keygated --version` prints: the build, then the
// FIPS 140-3 module and mode of keygated's own cryptography, e.g.
//
//	keygated (devel) c49a75f1e2b3 go1.26.8 linux/amd64
//	FIPS 140-3 mode on; Go Cryptographic Module v1.0.0 (GOFIPS140=v1.0.0-c2097c7c)
func versionText() string {
	version, rev := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision":
				rev = " " + s.Value[:min(12, len(s.Value))] + rev
			case s.Key == "vcs.modified" && s.Value == "true":
				rev += "+modified"
			}
		}
	}
	return fmt.Sprintf("keygated %s%s %s %s/%s\n%s\n", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH, fips.Current())
}
