//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"

	"github.com/keygate/keygate/internal/kgerr"
	p11 "github.com/miekg/pkcs11"
)

// rv is the CKR_ code of err, or 0 (CKR_OK) if err is not a PKCS#11 error.
func rv(err error) uint {
	var e p11.Error
	if errors.As(err, &e) {
		return uint(e)
	}
	return p11.CKR_OK
}

// sessionLost reports errors after which the session (or the login, or the
// whole module) is gone: the pool drops the session, recovers and retries.
func sessionLost(err error) bool {
	switch rv(err) {
	case p11.CKR_SESSION_HANDLE_INVALID, p11.CKR_SESSION_CLOSED, p11.CKR_DEVICE_REMOVED,
		p11.CKR_TOKEN_NOT_PRESENT, p11.CKR_USER_NOT_LOGGED_IN, p11.CKR_CRYPTOKI_NOT_INITIALIZED:
		return true
	}
	return false
}

// handleLost reports errors that mean a cached object handle went stale.
func handleLost(err error) bool {
	switch rv(err) {
	case p11.CKR_OBJECT_HANDLE_INVALID, p11.CKR_KEY_HANDLE_INVALID:
		return true
	}
	return false
}

// unavailable reports token errors a caller may retry later: the token,
// the session or the login went away and recovery did not bring it back.
func unavailable(err error) bool {
	if sessionLost(err) || errors.Is(err, errSessionGone) {
		return true
	}
	switch rv(err) {
	case p11.CKR_DEVICE_ERROR, p11.CKR_DEVICE_MEMORY, p11.CKR_TOKEN_NOT_RECOGNIZED,
		p11.CKR_SESSION_COUNT, p11.CKR_PIN_LOCKED, p11.CKR_PIN_EXPIRED:
		return true
	}
	return false
}

// fail turns an error from an operation on key id into a *kgerr.Error.
// Domain and context errors pass through; token errors become Unavailable
// when the token is gone and Internal otherwise, with the CKR_ code kept
// in the cause for logs.
func (b *Backend) fail(op, id string, err error) error {
	var ke *kgerr.Error
	if err == nil || errors.As(err, &ke) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	kind := kgerr.Internal
	if unavailable(err) {
		kind = kgerr.Unavailable
	}
	msg := fmt.Sprintf("pkcs11 backend %q: %s failed", b.name, op)
	if id != "" {
		msg = fmt.Sprintf("pkcs11 backend %q: %s with key %s failed", b.name, op, id)
	}
	return kgerr.Wrap(kind, err, msg)
}
