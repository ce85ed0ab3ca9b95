package memory

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// key is an open handle to one in-memory key.
type key struct {
	id string
	m  *material
}

func (k *key) ID() string        { return k.id }
func (k *key) Spec() keys.Spec   { return k.m.spec }
func (k *key) Usage() keys.Usage { return k.m.usage }

func (k *key) Public() crypto.PublicKey {
	switch {
	case k.m.signer != nil:
		return &k.m.signer.PublicKey
	case k.m.rsa != nil:
		return &k.m.rsa.PublicKey
	}
	return nil
}

// need refuses an operation the key's usage does not allow, naming it.
func (k *key) need(ctx context.Context, u keys.Usage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if k.m.usage != u {
		return kgerr.Errorf(kgerr.FailedPrecondition, "key %s has usage %s; the operation needs %s", k.id, k.m.usage, u)
	}
	return nil
}

func (k *key) Sign(ctx context.Context, alg keys.SigningAlgorithm, digest []byte) ([]byte, error) {
	if err := k.need(ctx, keys.SignVerify); err != nil {
		return nil, err
	}
	if len(digest) != alg.DigestSize() {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s signs a %d-byte digest, got %d bytes", alg, alg.DigestSize(), len(digest))
	}
	var sig []byte
	var err error
	switch {
	case k.m.signer != nil && (alg == keys.ECDSASHA256 && k.m.spec == keys.ECCNISTP256 || alg == keys.ECDSASHA384 && k.m.spec == keys.ECCNISTP384):
		sig, err = ecdsa.SignASN1(rand.Reader, k.m.signer, digest)
	case k.m.rsa != nil && alg.IsPSS():
		sig, err = rsa.SignPSS(rand.Reader, k.m.rsa, alg.Hash(), digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case k.m.rsa != nil && alg.Hash() != 0:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k.m.rsa, alg.Hash(), digest)
	default:
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "signing algorithm %s is not valid for a %s key", alg, k.m.spec)
	}
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, "signing failed")
	}
	return sig, nil
}

func (k *key) Encrypt(ctx context.Context, alg keys.EncryptionAlgorithm, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	if err := k.need(ctx, keys.EncryptDecrypt); err != nil {
		return nil, err
	}
	switch {
	case alg == keys.SymmetricDefaultAlg && k.m.secret != nil:
		return k.gcm().Seal(nil, nil, plaintext, backends.ContextAAD(encCtx)), nil
	case alg == keys.RSAESOAEPSHA256 && k.m.rsa != nil:
		if len(encCtx) > 0 {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "RSAES_OAEP_SHA_256 takes no encryption context")
		}
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &k.m.rsa.PublicKey, plaintext, nil)
		if err != nil {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "plaintext is too long for %s", k.m.spec)
		}
		return ct, nil
	}
	return nil, kgerr.Errorf(kgerr.InvalidArgument, "encryption algorithm %s is not valid for a %s key", alg, k.m.spec)
}

func (k *key) Decrypt(ctx context.Context, alg keys.EncryptionAlgorithm, ciphertext []byte, encCtx map[string]string) ([]byte, error) {
	if err := k.need(ctx, keys.EncryptDecrypt); err != nil {
		return nil, err
	}
	failed := kgerr.Errorf(kgerr.InvalidArgument, backends.DecryptFailed)
	switch {
	case alg == keys.SymmetricDefaultAlg && k.m.secret != nil:
		pt, err := k.gcm().Open(nil, nil, ciphertext, backends.ContextAAD(encCtx))
		if err != nil {
			return nil, failed
		}
		return pt, nil
	case alg == keys.RSAESOAEPSHA256 && k.m.rsa != nil:
		if len(encCtx) > 0 {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "RSAES_OAEP_SHA_256 takes no encryption context")
		}
		pt, err := rsa.DecryptOAEP(sha256.New(), nil, k.m.rsa, ciphertext, nil)
		if err != nil {
			return nil, failed
		}
		return pt, nil
	}
	return nil, kgerr.Errorf(kgerr.InvalidArgument, "encryption algorithm %s is not valid for a %s key", alg, k.m.spec)
}

// gcm is AES-GCM with a random nonce before the ciphertext: the form Go's
// FIPS 140-3 module approves, and the one it allows under fips140=only.
func (k *key) gcm() cipher.AEAD {
	block, err := aes.NewCipher(k.m.secret)
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		panic(err)
	}
	return aead
}

func (k *key) MAC(ctx context.Context, alg keys.MacAlgorithm, msg []byte) ([]byte, error) {
	if err := k.need(ctx, keys.GenerateVerifyMac); err != nil {
		return nil, err
	}
	if alg != k.m.spec.MacAlgorithm() {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "MAC algorithm %s is not valid for a %s key", alg, k.m.spec)
	}
	h := hmac.New(alg.Hash().New, k.m.secret)
	h.Write(msg)
	return h.Sum(nil), nil
}

func (k *key) DeriveSharedSecret(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error) {
	if err := k.need(ctx, keys.KeyAgreement); err != nil {
		return nil, err
	}
	priv, err := k.m.ecdhKey()
	if err != nil {
		return nil, err
	}
	if peer.Curve() != priv.Curve() {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "the peer key is on another curve than %s", k.m.spec)
	}
	z, err := priv.ECDH(peer)
	if err != nil {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "ECDH failed: the peer key is not valid")
	}
	return z, nil
}
