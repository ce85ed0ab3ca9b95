package load

import (
	"testing"

	"github.com/keygate/keygate/test/pgtest"
)

// The benchmark's PostgreSQL (a unix socket in a temporary directory) is
// stopped when the binary ends.
func TestMain(m *testing.M) { pgtest.Main(m) }
