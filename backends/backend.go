// Package backends defines what keygate needs from a place that holds keys
// (an HSM through PKCS#11, AWS KMS) and the registry that builds a backend
// from its configuration. Each backend lives in its own subpackage and
// passes the one conformance suite in backends/backendtest.
//
// Backends speak in keygate's vocabulary (package keys) and return
// *kgerr.Error values, so the server maps a disabled KMS key and a missing
// PKCS#11 object to the same status code.
package backends

import (
	"context"
	"crypto"
	"crypto/ecdh"

	"github.com/keygate/keygate/keys"
)

// Backend creates keys and opens handles to them. Open is the only call
// that may look a key up; every operation after it uses the handle, so the
// hot path does no per-call lookup.
type Backend interface {
	// Name is the backend's configured name ("hsm", "kms").
	Name() string
	// CreateKey generates a key inside the backend and returns its id: the
	// string that Open takes (a KMS key ARN, a PKCS#11 CKA_ID in hex).
	CreateKey(ctx context.Context, req CreateRequest) (string, error)
	// Open resolves an id returned by CreateKey (or an adopted key's id) to
	// a handle. It checks that the backend key really has the spec and
	// usage asked for.
	Open(ctx context.Context, id string, spec keys.Spec, usage keys.Usage) (Key, error)
	// Close releases sessions and connections.
	Close() error
}

// CreateRequest describes a key to generate.
type CreateRequest struct {
	Spec  keys.Spec
	Usage keys.Usage
	// Label names the key in the backend (PKCS#11 CKA_LABEL, a KMS tag):
	// "<logical name>/v<version>".
	Label string
	// Tags are extra backend tags (KMS only).
	Tags map[string]string
}

// Key is an open handle to one backend key. Methods that do not fit the
// key's usage return a keys.FailedPrecondition error. All input sizes have
// already been validated by the server; backends check them again only
// where the backend itself would misbehave.
type Key interface {
	// ID is the backend key id (as returned by CreateKey).
	ID() string
	Spec() keys.Spec
	Usage() keys.Usage
	// Public is the public key (*ecdsa.PublicKey, *rsa.PublicKey), nil for
	// symmetric and HMAC keys. It is read once at Open and cached.
	Public() crypto.PublicKey

	// Sign signs a digest of alg.DigestSize() bytes. ECDSA signatures are
	// ASN.1 DER, as KMS returns them.
	Sign(ctx context.Context, alg keys.SigningAlgorithm, digest []byte) ([]byte, error)
	// Encrypt encrypts under the key. For SYMMETRIC_DEFAULT the encryption
	// context is bound to the ciphertext as authenticated data and the
	// result is the backend's own blob; for RSAES_OAEP_SHA_256 the context
	// must be empty.
	Encrypt(ctx context.Context, alg keys.EncryptionAlgorithm, plaintext []byte, encCtx map[string]string) ([]byte, error)
	// Decrypt reverses Encrypt. Any authentication failure (tampered blob,
	// wrong context) is kgerr.InvalidArgument with one fixed message.
	Decrypt(ctx context.Context, alg keys.EncryptionAlgorithm, ciphertext []byte, encCtx map[string]string) ([]byte, error)
	// MAC computes an HMAC of msg.
	MAC(ctx context.Context, alg keys.MacAlgorithm, msg []byte) ([]byte, error)
	// DeriveSharedSecret runs ECDH with a peer public key (already validated
	// by the caller to be on the key's curve) and returns Z, the shared
	// x-coordinate.
	DeriveSharedSecret(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error)
}

// DataKeyGenerator is implemented by keys whose backend makes data keys
// itself (KMS GenerateDataKey), so the use appears as such in the backend's
// own log. Otherwise the server draws the data key and calls Encrypt.
type DataKeyGenerator interface {
	GenerateDataKey(ctx context.Context, size int, encCtx map[string]string) (plaintext, ciphertext []byte, err error)
}

// DecryptFailed is the one message for every authentication failure, so a
// caller cannot tell a bad tag from a wrong context or bad padding.
const DecryptFailed = "ciphertext could not be decrypted: it was altered, or the key or encryption context is wrong"

// PolicyKeeper is implemented by keys whose backend enforces a key policy
// of its own (KMS), so keygate's document can be compared with it and
// pushed to it.
type PolicyKeeper interface {
	GetKeyPolicy(ctx context.Context) ([]byte, error)
	PutKeyPolicy(ctx context.Context, doc []byte, bypassLockoutCheck bool) error
}
