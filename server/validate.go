package server

import (
	"crypto/sha256"
	"crypto/sha512"
	"slices"
	"strings"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/policy"
)

// Limits on request fields that fields.go does not bound by itself.
const (
	maxEncContextBytes = 8192 // all keys and values together
	maxEncContextPairs = 64
	maxDataKeyBytes    = 1024
	maxKDFInfo         = 1024
)

// signInput validates a Sign/Verify request against the key and returns
// the algorithm and the digest to sign.
func signInput(k *keys.Key, algName, msgType string, msg []byte) (keys.SigningAlgorithm, []byte, error) {
	allowed := k.Spec.SigningAlgorithms()
	alg := keys.SigningAlgorithm(algName)
	if alg == "" {
		alg = allowed[0]
	} else if !slices.Contains(allowed, alg) {
		return "", nil, kgerr.Errorf(kgerr.InvalidArgument, "signing_algorithm %q is not valid for key %q (%s); use one of %v", algName, k.Name, k.Spec, allowed)
	}
	switch keys.MessageType(msgType) {
	case keys.Raw, "":
		if len(msg) == 0 || len(msg) > keys.MaxMessage {
			return "", nil, kgerr.Errorf(kgerr.InvalidArgument, "message must be 1 to %d bytes for message_type RAW, got %d", keys.MaxMessage, len(msg))
		}
		return alg, digest(alg.DigestSize(), msg), nil
	case keys.Digest:
		if len(msg) != alg.DigestSize() {
			return "", nil, kgerr.Errorf(kgerr.InvalidArgument, "message must be a %d-byte digest for %s, got %d bytes", alg.DigestSize(), alg, len(msg))
		}
		return alg, msg, nil
	}
	return "", nil, kgerr.Errorf(kgerr.InvalidArgument, "message_type %q: want RAW or DIGEST", msgType)
}

func digest(size int, msg []byte) []byte {
	switch size {
	case 48:
		d := sha512.Sum384(msg)
		return d[:]
	case 64:
		d := sha512.Sum512(msg)
		return d[:]
	}
	d := sha256.Sum256(msg)
	return d[:]
}

// encAlgorithm validates an encryption algorithm against the key.
func encAlgorithm(k *keys.Key, name string) (keys.EncryptionAlgorithm, error) {
	allowed := k.Spec.EncryptionAlgorithms()
	alg := keys.EncryptionAlgorithm(name)
	if alg == "" {
		return allowed[0], nil
	}
	if !slices.Contains(allowed, alg) {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "encryption_algorithm %q is not valid for key %q (%s); use one of %v", name, k.Name, k.Spec, allowed)
	}
	return alg, nil
}

// checkEncContext bounds an encryption context; only symmetric encryption
// can bind one.
func checkEncContext(ec map[string]string, alg keys.EncryptionAlgorithm) error {
	if len(ec) == 0 {
		return nil
	}
	if alg != keys.SymmetricDefaultAlg {
		return kgerr.Errorf(kgerr.InvalidArgument, "encryption_context is only allowed with SYMMETRIC_DEFAULT")
	}
	if len(ec) > maxEncContextPairs {
		return kgerr.Errorf(kgerr.InvalidArgument, "encryption_context has %d pairs; at most %d", len(ec), maxEncContextPairs)
	}
	if err := policy.CheckEncryptionContext(ec); err != nil {
		return err
	}
	size := 0
	for k, v := range ec {
		if k == "" {
			return kgerr.Errorf(kgerr.InvalidArgument, "encryption_context has an empty key")
		}
		if strings.HasPrefix(k, keys.ReservedPrefix) {
			return kgerr.Errorf(kgerr.InvalidArgument, "encryption_context keys starting with %q are reserved", keys.ReservedPrefix)
		}
		size += len(k) + len(v)
	}
	if size > maxEncContextBytes {
		return kgerr.Errorf(kgerr.InvalidArgument, "encryption_context is %d bytes; at most %d", size, maxEncContextBytes)
	}
	return nil
}

// checkSize bounds a message or plaintext field to KMS's 1 to 4096 bytes.
func checkSize(field string, b []byte) error {
	if len(b) == 0 || len(b) > keys.MaxMessage {
		return kgerr.Errorf(kgerr.InvalidArgument, "%s must be 1 to %d bytes, got %d", field, keys.MaxMessage, len(b))
	}
	return nil
}

// macAlgorithm validates a MAC algorithm against the key.
func macAlgorithm(k *keys.Key, name string) (keys.MacAlgorithm, error) {
	own := k.Spec.MacAlgorithm()
	if name == "" || keys.MacAlgorithm(name) == own {
		return own, nil
	}
	return "", kgerr.Errorf(kgerr.InvalidArgument, "mac_algorithm %q is not valid for key %q (%s); use %s", name, k.Name, k.Spec, own)
}
