package threeds

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// memKey is a test-only backends.Key over Go private keys: the EMVCo
// samples' keys, which no HSM here holds. It follows the interface's
// contract (DER ECDSA signatures, PSS salt = digest length, one error for
// every decryption failure).
type memKey struct {
	id    string
	spec  keys.Spec
	usage keys.Usage
	ec    *ecdsa.PrivateKey
	rsa   *rsa.PrivateKey
	aes   []byte
	// badSig makes Sign return a signature by another key, as a confused
	// backend would.
	badSig bool
}

var _ backends.Key = (*memKey)(nil)

func (k *memKey) ID() string        { return k.id }
func (k *memKey) Spec() keys.Spec   { return k.spec }
func (k *memKey) Usage() keys.Usage { return k.usage }
func (k *memKey) Public() crypto.PublicKey {
	switch {
	case k.ec != nil:
		return &k.ec.PublicKey
	case k.rsa != nil:
		return &k.rsa.PublicKey
	}
	return nil
}

func (k *memKey) Sign(ctx context.Context, alg keys.SigningAlgorithm, digest []byte) ([]byte, error) {
	if k.usage != keys.SignVerify {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "not a signing key")
	}
	if len(digest) != alg.DigestSize() {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "digest size")
	}
	if k.badSig {
		other, _ := ecdsa.GenerateKey(k.ec.Curve, rand.Reader)
		return ecdsa.SignASN1(rand.Reader, other, digest)
	}
	switch {
	case k.ec != nil && alg == keys.ECDSASHA256:
		return ecdsa.SignASN1(rand.Reader, k.ec, digest)
	case k.rsa != nil && alg.IsPSS():
		return rsa.SignPSS(rand.Reader, k.rsa, alg.Hash(), digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	}
	return nil, kgerr.Errorf(kgerr.InvalidArgument, "algorithm %s", alg)
}

func (k *memKey) Encrypt(ctx context.Context, alg keys.EncryptionAlgorithm, pt []byte, encCtx map[string]string) ([]byte, error) {
	if k.aes == nil || alg != keys.SymmetricDefaultAlg {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "not a symmetric key")
	}
	return gcmOf(k.aes).Seal(nil, nil, pt, ctxAAD(encCtx)), nil
}

func (k *memKey) Decrypt(ctx context.Context, alg keys.EncryptionAlgorithm, ct []byte, encCtx map[string]string) ([]byte, error) {
	failed := kgerr.Errorf(kgerr.InvalidArgument, backends.DecryptFailed)
	switch {
	case k.rsa != nil && alg == keys.RSAESOAEPSHA256:
		pt, err := rsa.DecryptOAEP(sha256.New(), nil, k.rsa, ct, nil)
		if err != nil {
			return nil, failed
		}
		return pt, nil
	case k.aes != nil && alg == keys.SymmetricDefaultAlg:
		pt, err := gcmOf(k.aes).Open(nil, nil, ct, ctxAAD(encCtx))
		if err != nil {
			return nil, failed
		}
		return pt, nil
	}
	return nil, kgerr.Errorf(kgerr.FailedPrecondition, "cannot decrypt with %s", alg)
}

func (k *memKey) MAC(context.Context, keys.MacAlgorithm, []byte) ([]byte, error) {
	return nil, kgerr.Errorf(kgerr.FailedPrecondition, "not an HMAC key")
}

func (k *memKey) DeriveSharedSecret(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error) {
	if k.usage != keys.KeyAgreement || k.ec == nil {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "not a key agreement key")
	}
	priv, err := k.ec.ECDH()
	if err != nil {
		return nil, err
	}
	return priv.ECDH(peer)
}

// gcmOf is AES-GCM with random nonces (nonce ‖ ciphertext ‖ tag), the form
// Go's FIPS 140-3 module allows in every mode. (Ignoring cipher.NewGCM's
// error here once made the tests panic under GODEBUG=fips140=only.)
func gcmOf(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // newAESKey makes 32-byte keys
	}
	g, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		panic(err)
	}
	return g
}

// ctxAAD binds an encryption context as authenticated data, order-free.
func ctxAAD(c map[string]string) []byte {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	slices.Sort(names)
	var pairs [][2]string
	for _, n := range names {
		pairs = append(pairs, [2]string{n, c[n]})
	}
	b, _ := json.Marshal(pairs)
	return b
}

// jwkKey loads a private JWK (a vector's key) with go-jose.
func jwkKey(t testing.TB, raw json.RawMessage) any {
	t.Helper()
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		t.Fatalf("vector key: %v", err)
	}
	return k.Key
}

// vectorKey wraps a vector's private JWK as a backend key of the given usage.
func vectorKey(t testing.TB, raw json.RawMessage, usage keys.Usage) *memKey {
	switch k := jwkKey(t, raw).(type) {
	case *ecdsa.PrivateKey:
		return &memKey{id: "ec", spec: keys.ECCNISTP256, usage: usage, ec: k}
	case *rsa.PrivateKey:
		return &memKey{id: "rsa", spec: keys.RSA2048, usage: usage, rsa: k}
	}
	t.Fatalf("vector key of unexpected type")
	return nil
}

func newECKey(t testing.TB, usage keys.Usage) *memKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &memKey{id: "ec-new", spec: keys.ECCNISTP256, usage: usage, ec: k}
}

func newAESKey(id string) *memKey {
	k := make([]byte, 32)
	rand.Read(k)
	return &memKey{id: id, spec: keys.SymmetricDefault, usage: keys.EncryptDecrypt, aes: k}
}

// loadJSON reads a testdata file into v.
func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func cryptoRandRead(p []byte) (int, error) { return rand.Read(p) }
