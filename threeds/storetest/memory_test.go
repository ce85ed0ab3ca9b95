package storetest

import (
	"testing"

	"github.com/keygate/keygate/threeds"
)

func TestMemoryStore(t *testing.T) {
	Run(t, func(*testing.T) threeds.SessionStore { return &threeds.MemoryStore{} })
}
