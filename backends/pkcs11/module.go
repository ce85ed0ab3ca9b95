//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	p11 "github.com/miekg/pkcs11"
)

// api is the part of the PKCS#11 interface the backend uses; *p11.Ctx
// implements it. It is the seam where tests could inject token faults.
type api interface {
	GetSlotList(tokenPresent bool) ([]uint, error)
	GetTokenInfo(slotID uint) (p11.TokenInfo, error)
	GetMechanismList(slotID uint) ([]*p11.Mechanism, error)
	GetMechanismInfo(slotID uint, m []*p11.Mechanism) (p11.MechanismInfo, error)
	OpenSession(slotID uint, flags uint) (p11.SessionHandle, error)
	CloseSession(sh p11.SessionHandle) error
	GetSessionInfo(sh p11.SessionHandle) (p11.SessionInfo, error)
	Login(sh p11.SessionHandle, userType uint, pin string) error
	FindObjectsInit(sh p11.SessionHandle, temp []*p11.Attribute) error
	FindObjects(sh p11.SessionHandle, max int) ([]p11.ObjectHandle, bool, error)
	FindObjectsFinal(sh p11.SessionHandle) error
	GetAttributeValue(sh p11.SessionHandle, o p11.ObjectHandle, a []*p11.Attribute) ([]*p11.Attribute, error)
	GenerateKey(sh p11.SessionHandle, m []*p11.Mechanism, temp []*p11.Attribute) (p11.ObjectHandle, error)
	GenerateKeyPair(sh p11.SessionHandle, m []*p11.Mechanism, public, private []*p11.Attribute) (p11.ObjectHandle, p11.ObjectHandle, error)
	SignInit(sh p11.SessionHandle, m []*p11.Mechanism, o p11.ObjectHandle) error
	Sign(sh p11.SessionHandle, message []byte) ([]byte, error)
	EncryptInit(sh p11.SessionHandle, m []*p11.Mechanism, o p11.ObjectHandle) error
	Encrypt(sh p11.SessionHandle, message []byte) ([]byte, error)
	DecryptInit(sh p11.SessionHandle, m []*p11.Mechanism, o p11.ObjectHandle) error
	Decrypt(sh p11.SessionHandle, cipher []byte) ([]byte, error)
	DeriveKey(sh p11.SessionHandle, m []*p11.Mechanism, basekey p11.ObjectHandle, a []*p11.Attribute) (p11.ObjectHandle, error)
	DestroyObject(sh p11.SessionHandle, oh p11.ObjectHandle) error
	UnwrapKey(sh p11.SessionHandle, m []*p11.Mechanism, unwrapping p11.ObjectHandle, wrapped []byte, a []*p11.Attribute) (p11.ObjectHandle, error)
	CreateObject(sh p11.SessionHandle, a []*p11.Attribute) (p11.ObjectHandle, error)
}

// module is one loaded PKCS#11 library. C_Initialize and C_Finalize are
// process-wide, so every backend on the same library path shares one module
// (this map mirrors state the C library keeps globally anyway).
type module struct {
	path  string
	ctx   *p11.Ctx
	refs  int
	owned bool // we called C_Initialize, so we call C_Finalize

	// use is held shared by every pooled call into the module and
	// exclusively by reset, so C_Finalize never runs under a call in
	// flight (SoftHSM2 frees sessions under running calls and crashes).
	use sync.RWMutex
	// gen grows whenever the module was initialised again: sessions and
	// object handles from before are gone, and their numbers may be
	// reused by new ones, so they must not even be closed.
	gen atomic.Uint64
	// objects is held exclusively by calls that create or destroy token
	// objects (pool.withTokenWrite) and shared by searches for them
	// (findObjects): SoftHSM2 2.6 fails a token object write that runs
	// beside another write or a search on the token with
	// CKR_GENERAL_ERROR (SoftHSMv2#573: its file locks are per process, so
	// threads are not kept apart). Signing on found handles does not take it.
	objects sync.RWMutex
}

var modules = struct {
	sync.Mutex
	m map[string]*module
}{m: map[string]*module{}}

func loadModule(path string) (*module, error) {
	modules.Lock()
	defer modules.Unlock()
	if m := modules.m[path]; m != nil {
		m.refs++
		return m, nil
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("cannot load PKCS#11 module %s", path)
	}
	m := &module{path: path, ctx: ctx, refs: 1}
	if err := m.initialize(); err != nil {
		ctx.Destroy()
		return nil, err
	}
	modules.m[path] = m
	return m, nil
}

// initialize runs C_Initialize. Another user in the process (a test helper,
// a second library handle) may have done it already; that is fine, but then
// finalising is theirs.
func (m *module) initialize() error {
	err := m.ctx.Initialize()
	switch {
	case err == nil:
		m.owned = true
	case errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
	default:
		return fmt.Errorf("C_Initialize %s: %w", m.path, err)
	}
	return nil
}

// reinitialize is recovery after CKR_CRYPTOKI_NOT_INITIALIZED: someone
// finalised the library under us.
func (m *module) reinitialize() error {
	modules.Lock()
	defer modules.Unlock()
	err := m.ctx.Initialize()
	switch {
	case err == nil:
		m.owned = true
		m.gen.Add(1) // first to notice: what was open before is gone
	case errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
	default:
		return fmt.Errorf("C_Initialize %s: %w", m.path, err)
	}
	return nil
}

// reset finalises the module and initialises it again, once no pooled
// call is in flight on any backend that shares it. It is how a module reads
// its tokens again: SoftHSM2 marks a token whose files went away invalid
// and does not look at them again until C_Initialize.
func (m *module) reset() error {
	m.use.Lock()
	defer m.use.Unlock()
	modules.Lock()
	defer modules.Unlock()
	m.ctx.Finalize() // an error means it was not initialised: fine
	m.gen.Add(1)
	return m.initialize()
}

func (m *module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	if m.owned {
		m.ctx.Finalize()
	}
	m.ctx.Destroy()
	delete(modules.m, m.path)
}

// findObjects returns up to max objects matching tmpl, sharing
// m.objects with other searches.
func (m *module) findObjects(api api, s p11.SessionHandle, tmpl []*p11.Attribute, max int) ([]p11.ObjectHandle, error) {
	m.objects.RLock()
	defer m.objects.RUnlock()
	return findObjectsLocked(api, s, tmpl, max)
}

// findObjectsLocked is findObjects for a caller that holds m.objects
// already (inside withTokenWrite, or shared).
func findObjectsLocked(api api, s p11.SessionHandle, tmpl []*p11.Attribute, max int) ([]p11.ObjectHandle, error) {
	if err := api.FindObjectsInit(s, tmpl); err != nil {
		return nil, fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	found, _, err := api.FindObjects(s, max)
	if ferr := api.FindObjectsFinal(s); err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		return nil, fmt.Errorf("C_FindObjects: %w", err)
	}
	return found, nil
}
