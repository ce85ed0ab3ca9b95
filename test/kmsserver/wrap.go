package kmsserver

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"strings"

	"github.com/tink-crypto/tink-go/v2/kwp/subtle"
)

// WrapKeyMaterial wraps material as an operator's tool does for
// ImportKeyMaterial, under the RSA public key GetParametersForImport
// returned, for wrapping algorithm alg (its KMS name): RSAES_OAEP_SHA_*
// encrypts the material itself; RSA_AES_KEY_WRAP_SHA_* encrypts a fresh
// AES-256 key and appends the material wrapped under it with RFC 5649.
func WrapKeyMaterial(pub *rsa.PublicKey, alg string, material []byte) ([]byte, error) {
	var h hash.Hash = sha256.New()
	if strings.HasSuffix(alg, "_SHA_1") {
		h = sha1.New()
	}
	if !strings.HasPrefix(alg, "RSA_AES_KEY_WRAP") {
		return rsa.EncryptOAEP(h, rand.Reader, pub, material, nil)
	}
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	kwp, err := subtle.NewKWP(aesKey)
	if err != nil {
		return nil, err
	}
	inner, err := kwp.Wrap(material)
	if err != nil {
		return nil, err
	}
	outer, err := rsa.EncryptOAEP(h, rand.Reader, pub, aesKey, nil)
	if err != nil {
		return nil, err
	}
	return append(outer, inner...), nil
}
