//go:build cgo

package opencryptoki

import (
	"errors"
	"fmt"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

var (
	holdMu sync.Mutex
	held   *p11.Ctx // the helper's own handle on the module, never finalised
)

// hold loads and initialises the module once for the life of the test
// binary, as test/softhsm does with SoftHSM2: opencryptoki 3.8.1 crashes
// in C_Initialize when it is initialised again after a C_Finalize and
// unload in a process that also has SoftHSM2 loaded (both use OpenSSL's
// libcrypto). Backends then find it initialised and leave finalising to
// its owner, which never does.
func hold(module string) error {
	holdMu.Lock()
	defer holdMu.Unlock()
	if held != nil {
		return nil
	}
	lib := p11.New(module)
	if lib == nil {
		return fmt.Errorf("cannot load %s", module)
	}
	if err := lib.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("C_Initialize: %w", err)
	}
	held = lib
	return nil
}
