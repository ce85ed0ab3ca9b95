package kmsserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Key states as KMS names them.
const (
	Enabled         = "Enabled"
	Disabled        = "Disabled"
	PendingDeletion = "PendingDeletion"
	// PendingImport is a key of origin EXTERNAL without key material:
	// made so, or whose imported material was deleted or expired.
	PendingImport = "PendingImport"
)

// Key origins as KMS names them.
const (
	OriginKMS      = "AWS_KMS"
	OriginExternal = "EXTERNAL"
)

// key is one KMS key with its material.
type key struct {
	id, arn     string
	spec, usage string
	state       string
	description string
	policy      string
	created     time.Time
	deletion    time.Time // set while PendingDeletion
	tags        []tag
	origin      string // OriginKMS or OriginExternal

	// Imported material (origin EXTERNAL): its id, kept after the material
	// is deleted so a reimport must bring the same material, and when it
	// expires (zero: never).
	materialID      string
	expirationModel string
	validTo         time.Time

	signer crypto.Signer // EC and RSA keys
	secret []byte        // SYMMETRIC_DEFAULT (AES-256) and HMAC keys
}

type tag struct {
	TagKey   string
	TagValue string
}

type alias struct {
	name, arn string
	target    string // key id
	created   time.Time
}

// specUsages is which usages KMS allows for each key spec.
var specUsages = map[string][]string{
	"SYMMETRIC_DEFAULT": {"ENCRYPT_DECRYPT"},
	"ECC_NIST_P256":     {"SIGN_VERIFY", "KEY_AGREEMENT"},
	"ECC_NIST_P384":     {"SIGN_VERIFY", "KEY_AGREEMENT"},
	"ECC_NIST_P521":     {"SIGN_VERIFY", "KEY_AGREEMENT"},
	"RSA_2048":          {"SIGN_VERIFY", "ENCRYPT_DECRYPT"},
	"RSA_3072":          {"SIGN_VERIFY", "ENCRYPT_DECRYPT"},
	"RSA_4096":          {"SIGN_VERIFY", "ENCRYPT_DECRYPT"},
	"HMAC_224":          {"GENERATE_VERIFY_MAC"},
	"HMAC_256":          {"GENERATE_VERIFY_MAC"},
	"HMAC_384":          {"GENERATE_VERIFY_MAC"},
	"HMAC_512":          {"GENERATE_VERIFY_MAC"},
}

// newKeyMaterial generates the material of a key of the given spec.
func newKeyMaterial(spec string) (crypto.Signer, []byte, error) {
	switch spec {
	case "SYMMETRIC_DEFAULT":
		return nil, randBytes(32), nil
	case "HMAC_224":
		return nil, randBytes(28), nil
	case "HMAC_256":
		return nil, randBytes(32), nil
	case "HMAC_384":
		return nil, randBytes(48), nil
	case "HMAC_512":
		return nil, randBytes(64), nil
	case "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521":
		k, err := ecdsa.GenerateKey(curveOf(spec), rand.Reader)
		return k, nil, err
	case "RSA_2048", "RSA_3072", "RSA_4096":
		var bits int
		fmt.Sscanf(spec, "RSA_%d", &bits)
		k, err := rsa.GenerateKey(rand.Reader, bits)
		return k, nil, err
	}
	return nil, nil, fmt.Errorf("unsupported key spec %s", spec)
}

func curveOf(spec string) elliptic.Curve {
	switch spec {
	case "ECC_NIST_P384":
		return elliptic.P384()
	case "ECC_NIST_P521":
		return elliptic.P521()
	}
	return elliptic.P256()
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func (s *Server) keyARN(id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", s.Region, s.Account, id)
}

func (s *Server) aliasARN(name string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:%s", s.Region, s.Account, name)
}

// resolve finds the key a KeyId names: a key id, a key ARN, an alias name
// or an alias ARN. The caller holds s.mu.
func (s *Server) resolve(keyID string) (*key, *kmsError) {
	if keyID == "" {
		return nil, validation("Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	prefix := fmt.Sprintf("arn:aws:kms:%s:%s:", s.Region, s.Account)
	name := keyID
	if strings.HasPrefix(keyID, "arn:") {
		if !strings.HasPrefix(keyID, prefix) {
			return nil, notFound(keyID)
		}
		name = strings.TrimPrefix(keyID, prefix)
	}
	if strings.HasPrefix(name, "alias/") {
		a := s.aliases[name]
		if a == nil {
			return nil, errf("NotFoundException", "Alias %s is not found.", s.aliasARN(name))
		}
		return s.keys[a.target], nil
	}
	name = strings.TrimPrefix(name, "key/")
	if name != keyID && !strings.HasPrefix(keyID, prefix+"key/") {
		return nil, notFound(keyID)
	}
	if _, err := uuid.Parse(name); err != nil {
		return nil, errf("NotFoundException", "Invalid keyId '%s'", keyID)
	}
	k := s.keys[name]
	if k == nil {
		return nil, notFound(s.keyARN(name))
	}
	s.expireMaterial(k)
	return k, nil
}

// usable resolves a key for a cryptographic operation: it must be enabled
// and have the usage the operation needs.
func (s *Server) usable(c *call, keyID, usage string) (*key, *kmsError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, kerr := s.resolve(keyID)
	if kerr != nil {
		return nil, kerr
	}
	c.resources = append(c.resources, k.arn)
	if kerr := k.enabled(); kerr != nil {
		return nil, kerr
	}
	if k.usage != usage {
		return nil, keyUsage(k.arn, k.usage, c.op)
	}
	return k, nil
}

func (k *key) enabled() *kmsError {
	switch k.state {
	case Disabled:
		return errf("DisabledException", "%s is disabled.", k.arn)
	case PendingDeletion:
		return errf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
	case PendingImport:
		return errf("KMSInvalidStateException", "%s is pending import.", k.arn)
	}
	return nil
}

// State reports a key's KMS state ("" if there is no such key): a test
// hook for assertions, not part of the KMS API.
func (s *Server) State(keyID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, kerr := s.resolve(keyID)
	if kerr != nil {
		return ""
	}
	return k.state
}
