package memory

import (
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/backendtest"
)

// TestConformance proves the memory backend by the suite the real
// backends pass, so tests that run on it test what production runs.
func TestConformance(t *testing.T) {
	backendtest.Run(t, backendtest.Target{
		New:       func(*testing.T) backends.Backend { return New("memory") },
		UnknownID: "00000000000000000000000000000000",
	})
}
