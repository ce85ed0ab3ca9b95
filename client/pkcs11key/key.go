//go:build cgo

package pkcs11key

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"
)

// Key is a private key that stays in a PKCS#11 token: a crypto.Signer
// whose Sign is C_Sign in the token, for crypto/tls and crypto/x509.
// It holds one logged-in session for its lifetime; signatures are made one
// at a time on it (a client signs once per handshake).
type Key struct {
	uri   *URI
	lib   *p11.Ctx
	owned bool // this Key ran C_Initialize, so it runs C_Finalize

	opts options
	rw   bool

	mu      sync.Mutex
	session p11.SessionHandle
	priv    p11.ObjectHandle
	pub     crypto.PublicKey
	closed  bool
}

// Open finds the private key uri names and logs in to its token with the
// URI's PIN, or the PIN the prompt returns when the URI gives none.
func Open(ctx context.Context, uri string, opts ...Option) (*Key, error) {
	k, err := open(ctx, uri, false, opts)
	if err != nil {
		return nil, err
	}
	if err := k.find(); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

// open loads the module, finds the token and logs in; rw opens a
// read-write session, which generating a key needs.
func open(ctx context.Context, uri string, rw bool, opts []Option) (*Key, error) {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if _, _, err := u.PIN(); err != nil { // an unreadable pin-source fails before the module loads
		return nil, err
	}
	lib := p11.New(u.ModulePath)
	if lib == nil {
		return nil, fmt.Errorf("pkcs11: cannot load the module %s", u.ModulePath)
	}
	k := &Key{uri: u, lib: lib, opts: o, rw: rw}
	if err := k.initialize(); err != nil {
		lib.Destroy()
		return nil, err
	}
	if err := k.connect(ctx); err != nil {
		k.Close()
		return nil, err
	}
	return k, nil
}

func (k *Key) initialize() error {
	switch err := k.lib.Initialize(); {
	case err == nil:
		k.owned = true
	case errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
		// Another user in this process (a pkcs11 backend) initialised the
		// module: it is theirs to finalise.
	default:
		return fmt.Errorf("pkcs11: C_Initialize %s: %w", k.uri.ModulePath, err)
	}
	return nil
}

// connect finds the token, opens a session and logs in. The PIN is read
// from the URI or asked for each time, never kept: after a lost session
// (a card pulled and put back) the prompt asks again.
func (k *Key) connect(ctx context.Context) error {
	pin, ok, err := k.uri.PIN()
	if err != nil {
		return err
	}
	slot, label, err := k.slot()
	if err != nil {
		return err
	}
	if !ok {
		if k.opts.prompt == nil {
			return fmt.Errorf("pkcs11: %s: the URI gives no pin-source or pin-value, and no PIN prompt was given", k.uri.tokenName())
		}
		if pin, err = k.opts.prompt(ctx, label); err != nil {
			return fmt.Errorf("pkcs11: %s: PIN: %w", k.uri.tokenName(), err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	flags := uint(p11.CKF_SERIAL_SESSION)
	if k.rw {
		flags |= p11.CKF_RW_SESSION
	}
	s, err := k.lib.OpenSession(slot, flags)
	if err != nil {
		return fmt.Errorf("pkcs11: %s: C_OpenSession: %w", k.uri.tokenName(), err)
	}
	k.session = s
	return k.login(pin)
}

// reconnect restores a lost session and finds the key again, which must
// be the same key (a card swapped for another with the same label is not).
func (k *Key) reconnect() error {
	if k.session != 0 {
		k.lib.CloseSession(k.session) // usually gone already
		k.session = 0
	}
	if err := k.connect(context.Background()); errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_NOT_INITIALIZED)) {
		if err := k.initialize(); err != nil {
			return err
		}
		if err := k.connect(context.Background()); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	pub := k.pub
	err := k.find()
	if eq, ok := pub.(interface{ Equal(crypto.PublicKey) bool }); err == nil && (!ok || !eq.Equal(k.pub)) {
		err = fmt.Errorf("pkcs11: %s: the key found again with %s is not the key opened", k.uri.tokenName(), k.uri.selector())
	}
	if err != nil {
		k.priv, k.pub = 0, pub // never sign with another key than Public names
	}
	return err
}

// lost reports errors after which the session or the key's handle is gone
// but the token may well be back: worth one reconnect.
func lost(err error) bool {
	for _, code := range []uint{p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED, p11.CKR_USER_NOT_LOGGED_IN,
		p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_DEVICE_REMOVED, p11.CKR_KEY_HANDLE_INVALID, p11.CKR_OBJECT_HANDLE_INVALID,
		p11.CKR_CRYPTOKI_NOT_INITIALIZED} {
		if errors.Is(err, p11.Error(code)) {
			return true
		}
	}
	return false
}

// slot finds the one token the URI selects, and its label.
func (k *Key) slot() (uint, string, error) {
	u := k.uri
	slots, err := k.lib.GetSlotList(true)
	if err != nil {
		return 0, "", fmt.Errorf("pkcs11: C_GetSlotList: %w", err)
	}
	var found []uint
	var label string
	for _, s := range slots {
		info, err := k.lib.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if u.SlotID != nil && *u.SlotID != s ||
			u.Token != "" && u.Token != trim(info.Label) ||
			u.Serial != "" && u.Serial != trim(info.SerialNumber) ||
			u.Manufacturer != "" && u.Manufacturer != trim(info.ManufacturerID) ||
			u.Model != "" && u.Model != trim(info.Model) {
			continue
		}
		found, label = append(found, s), trim(info.Label)
	}
	switch len(found) {
	case 0:
		return 0, "", fmt.Errorf("pkcs11: no %s in the module %s", u.tokenName(), u.ModulePath)
	case 1:
		return found[0], label, nil
	}
	return 0, "", fmt.Errorf("pkcs11: %d tokens match %s; add serial= to the URI", len(found), u.tokenName())
}

// login logs the user in. The PIN is in no error: a token's answer is
// turned into words that name the token only.
func (k *Key) login(pin string) error {
	err := k.lib.Login(k.session, p11.CKU_USER, pin)
	switch {
	case err == nil, errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)):
		return nil
	case errors.Is(err, p11.Error(p11.CKR_PIN_INCORRECT)):
		return fmt.Errorf("pkcs11: %s: %w", k.uri.tokenName(), ErrPINIncorrect)
	case errors.Is(err, p11.Error(p11.CKR_PIN_LOCKED)):
		return fmt.Errorf("pkcs11: %s: the PIN is locked (too many wrong PINs); the token's security officer must unlock it", k.uri.tokenName())
	case errors.Is(err, p11.Error(p11.CKR_PIN_LEN_RANGE)):
		return fmt.Errorf("pkcs11: %s: the PIN has the wrong length for this token", k.uri.tokenName())
	}
	var code p11.Error
	if errors.As(err, &code) {
		return fmt.Errorf("pkcs11: %s: C_Login: %w", k.uri.tokenName(), code)
	}
	return fmt.Errorf("pkcs11: %s: C_Login failed", k.uri.tokenName())
}

// find looks up the one private key the URI names and its public key.
func (k *Key) find() error {
	hs, err := k.objects(p11.CKO_PRIVATE_KEY, k.uri.Object, k.uri.ID)
	if err != nil {
		return err
	}
	switch len(hs) {
	case 0:
		return fmt.Errorf("pkcs11: %s has no private key with %s", k.uri.tokenName(), k.uri.selector())
	case 1:
	default:
		return fmt.Errorf("pkcs11: %s has %d private keys with %s; add id= to the URI", k.uri.tokenName(), len(hs), k.uri.selector())
	}
	k.priv = hs[0]
	k.pub, err = k.publicKey()
	return err
}

// objects finds the objects of a class with the label and id given.
func (k *Key) objects(class uint, label string, id []byte) ([]p11.ObjectHandle, error) {
	tmpl := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class)}
	if label != "" {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_LABEL, label))
	}
	if id != nil {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_ID, id))
	}
	if err := k.lib.FindObjectsInit(k.session, tmpl); err != nil {
		return nil, fmt.Errorf("pkcs11: C_FindObjectsInit: %w", err)
	}
	defer k.lib.FindObjectsFinal(k.session)
	var out []p11.ObjectHandle
	for {
		hs, _, err := k.lib.FindObjects(k.session, 16)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: C_FindObjects: %w", err)
		}
		if len(hs) == 0 {
			return out, nil
		}
		out = append(out, hs...)
	}
}

// Public is the key's public key.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// URI is the key's URI, with a pin-value redacted.
func (k *Key) URI() string { return k.uri.String() }

// Close logs out by closing the session and releases the module.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	if k.session != 0 {
		k.lib.CloseSession(k.session)
	}
	if k.owned {
		k.lib.Finalize()
	}
	k.lib.Destroy()
	return nil
}

func trim(s string) string { return strings.TrimRight(s, " \x00") }
