package backends

import (
	"context"
	"crypto/rsa"

	"github.com/keygate/keygate/keys"
)

// WrappingAlgorithm is how an operator wraps key material for import, as
// KMS's GetParametersForImport names it.
type WrappingAlgorithm string

const (
	RSAESOAEPSHA1         WrappingAlgorithm = "RSAES_OAEP_SHA_1"
	RSAESOAEPSHA256       WrappingAlgorithm = "RSAES_OAEP_SHA_256"
	RSAAESKeyWrapSHA1     WrappingAlgorithm = "RSA_AES_KEY_WRAP_SHA_1"
	RSAAESKeyWrapSHA256   WrappingAlgorithm = "RSA_AES_KEY_WRAP_SHA_256"
	DefaultWrappingAlgRSA                   = RSAESOAEPSHA256
)

// Valid reports whether a is one of the four algorithms.
func (a WrappingAlgorithm) Valid() bool {
	switch a {
	case RSAESOAEPSHA1, RSAESOAEPSHA256, RSAAESKeyWrapSHA1, RSAAESKeyWrapSHA256:
		return true
	}
	return false
}

// AESKeyWrap reports whether the material is wrapped by an ephemeral AES
// key (RFC 5649) that is itself RSA-OAEP wrapped: what private keys need,
// as they are longer than one RSA block.
func (a WrappingAlgorithm) AESKeyWrap() bool {
	return a == RSAAESKeyWrapSHA1 || a == RSAAESKeyWrapSHA256
}

// SHA256 reports whether the OAEP step uses SHA-256 (else SHA-1).
func (a WrappingAlgorithm) SHA256() bool { return a == RSAESOAEPSHA256 || a == RSAAESKeyWrapSHA256 }

// WrappingKeyBits is the size of an import's wrapping key (KMS: RSA_3072).
const WrappingKeyBits = 3072

// WrappingRequest asks for the wrapping key of one import.
type WrappingRequest struct {
	// Label binds the import: the backend keeps it with the wrapping key
	// and WrappingKeyLabel reads it back.
	Label     string
	Algorithm WrappingAlgorithm
	// Spec, Usage and KeyLabel are those of the key the material will
	// become. A backend whose wrapping key belongs to that key (KMS: the
	// parameters are for a key of origin EXTERNAL) makes the key now.
	Spec     keys.Spec
	Usage    keys.Usage
	KeyLabel string
}

// WrappingKey is a backend's answer to a WrappingRequest.
type WrappingKey struct {
	// ID names the wrapping key (for WrappingKeyLabel, ImportRequest and
	// Deleter.Destroy).
	ID     string
	Public *rsa.PublicKey
	// Token is the backend's own import token (KMS's ImportToken), opaque
	// and nil where the backend has none; it goes back in ImportRequest.
	Token []byte
}

// ImportRequest is material to unwrap into a new backend key.
type ImportRequest struct {
	// WrappingKeyID and Token are those of NewWrappingKey's answer.
	WrappingKeyID string
	Token         []byte
	Algorithm     WrappingAlgorithm
	// Material is the wrapped key: raw bytes of a symmetric or HMAC key,
	// or a PKCS#8 private key (AES key wrap algorithms only).
	Material []byte
	Spec     keys.Spec
	Usage    keys.Usage
	Label    string
}

// Importer is implemented by backends that take key material from outside
// (bring your own key): the material is unwrapped inside the backend and
// never appears in keygate's memory.
type Importer interface {
	// NewWrappingKey makes an RSA 3072 wrapping key in the backend whose
	// private half can only unwrap with req.Algorithm, labelled req.Label.
	// A backend that cannot unwrap with the algorithm refuses with
	// FailedPrecondition naming the mechanism it lacks.
	NewWrappingKey(ctx context.Context, req WrappingRequest) (WrappingKey, error)
	// WrappingKeyLabel is the label of wrapping key id, NotFound if the
	// backend has no such wrapping key that can still take material.
	WrappingKeyLabel(ctx context.Context, id string) (string, error)
	// ImportKey unwraps req.Material into a key that is sensitive and
	// never extractable and returns its id (for Open). Material of the
	// wrong kind or size is InvalidArgument, and leaves no key behind.
	// The id is req.WrappingKeyID itself where the material went into the
	// key the wrapping key belongs to (KMS): that key is the new key, and
	// is not destroyed as a spent wrapping key is.
	ImportKey(ctx context.Context, req ImportRequest) (string, error)
}
