//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// AES-GCM blob layout: iv || ciphertext || tag.
const (
	gcmIVSize  = 12
	gcmTagSize = 16
)

// Encrypt encrypts with AES-256-GCM in the token (the encryption context as
// AAD), or with RSA-OAEP SHA-256 in Go under the cached public key: the
// public half needs no HSM.
func (k *Key) Encrypt(ctx context.Context, alg keys.EncryptionAlgorithm, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	if err := k.checkCrypt("Encrypt", alg, encCtx); err != nil {
		return nil, err
	}
	if k.spec.IsRSA() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.public.(*rsa.PublicKey), plaintext, nil)
		if err != nil {
			return nil, kgerr.Wrap(kgerr.InvalidArgument, err, "plaintext is too long for RSAES_OAEP_SHA_256 under this key")
		}
		return out, nil
	}
	if err := k.b.canDo("Encrypt with AES-GCM", p11.CKM_AES_GCM, p11.CKF_ENCRYPT); err != nil {
		return nil, err
	}
	aad := backends.ContextAAD(encCtx)
	var sealed []byte
	err := k.do(ctx, "encrypt", func(s p11.SessionHandle, h p11.ObjectHandle) error {
		// A fresh IV per attempt (the pool may retry on another session).
		// CloudHSM takes no IV from the application: it wants a zeroed
		// buffer and writes the IV it generated into it ("Supported
		// mechanisms for the PKCS #11 library for AWS CloudHSM Client SDK
		// 5", annotation [1]:
		// https://docs.aws.amazon.com/cloudhsm/latest/userguide/pkcs11-mechanisms.html).
		iv := make([]byte, gcmIVSize)
		if !k.b.cloudHSM {
			rand.Read(iv)
		}
		params := p11.NewGCMParams(iv, aad, gcmTagSize*8)
		defer params.Free()
		if err := k.b.api.EncryptInit(s, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, h); err != nil {
			return fmt.Errorf("C_EncryptInit: %w", err)
		}
		ct, err := k.b.api.Encrypt(s, plaintext)
		if err != nil {
			return fmt.Errorf("C_Encrypt: %w", err)
		}
		// The IV the token used, read back from the parameters it may
		// have written.
		used := params.IV()
		switch {
		case len(used) != gcmIVSize:
			return fmt.Errorf("token used a %d-byte GCM IV", len(used))
		case k.b.cloudHSM && bytes.Equal(used, make([]byte, gcmIVSize)):
			// Never let a ciphertext out under a fixed IV.
			return fmt.Errorf("token did not write the GCM IV it generated")
		}
		sealed = append(append(make([]byte, 0, gcmIVSize+len(ct)), used...), ct...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sealed, nil
}

// Decrypt reverses Encrypt in the token.
func (k *Key) Decrypt(ctx context.Context, alg keys.EncryptionAlgorithm, ciphertext []byte, encCtx map[string]string) ([]byte, error) {
	if err := k.checkCrypt("Decrypt", alg, encCtx); err != nil {
		return nil, err
	}
	if k.spec.IsRSA() {
		return k.decryptOAEP(ctx, ciphertext)
	}
	if err := k.b.canDo("Decrypt with AES-GCM", p11.CKM_AES_GCM, p11.CKF_DECRYPT); err != nil {
		return nil, err
	}
	if len(ciphertext) < gcmIVSize+gcmTagSize {
		return nil, decryptFailed(fmt.Errorf("blob of %d bytes", len(ciphertext)))
	}
	params := p11.NewGCMParams(ciphertext[:gcmIVSize], backends.ContextAAD(encCtx), gcmTagSize*8)
	defer params.Free()
	plain, _, err := k.decrypt(ctx, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, ciphertext[gcmIVSize:])
	return plain, err
}

// decryptOAEP decrypts RSAES_OAEP_SHA_256 with the token's OAEP, or, if the
// token refuses OAEP with SHA-256, with raw RSA in the token and the
// padding removed in Go (see oaep.go). The token's answer is remembered.
func (k *Key) decryptOAEP(ctx context.Context, ciphertext []byte) ([]byte, error) {
	size := k.public.(*rsa.PublicKey).Size()
	if len(ciphertext) != size {
		return nil, decryptFailed(fmt.Errorf("RSA ciphertext of %d bytes", len(ciphertext)))
	}
	if k.b.rawOAEP.Load() && !k.b.caps.has(p11.CKM_RSA_X_509, p11.CKF_DECRYPT) {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "token %s lacks CKM_RSA_PKCS_OAEP and CKM_RSA_X_509: Decrypt with %s is not possible there", k.b.name, keys.RSAESOAEPSHA256)
	}
	if !k.b.rawOAEP.Load() {
		plain, initErr, err := k.decrypt(ctx, mechOAEP, ciphertext)
		switch rv(initErr) {
		case p11.CKR_ARGUMENTS_BAD, p11.CKR_MECHANISM_PARAM_INVALID, p11.CKR_MECHANISM_INVALID:
			k.b.rawOAEP.Store(true)
		default:
			return plain, err
		}
	}
	em, _, err := k.decrypt(ctx, mechRSAX509, ciphertext)
	if err != nil {
		return nil, err
	}
	plain, ok := oaepUnpadSHA256(em, size)
	if !ok {
		return nil, decryptFailed(fmt.Errorf("OAEP decoding failed"))
	}
	return plain, nil
}

var (
	mechOAEP    = []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_OAEP, p11.NewOAEPParams(p11.CKM_SHA256, p11.CKG_MGF1_SHA256, p11.CKZ_DATA_SPECIFIED, nil))}
	mechRSAX509 = []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_X_509, nil)}
)

// decrypt runs C_DecryptInit and C_Decrypt. initErr is the token's answer
// to C_DecryptInit, if that is what failed. Every failure that is not the
// token going away is the one DecryptFailed error, so callers learn
// nothing about why.
func (k *Key) decrypt(ctx context.Context, mech []*p11.Mechanism, in []byte) (plain []byte, initErr, err error) {
	err = k.run(ctx, func(s p11.SessionHandle, h p11.ObjectHandle) error {
		if err := k.b.api.DecryptInit(s, mech, h); err != nil {
			initErr = err
			return fmt.Errorf("C_DecryptInit: %w", err)
		}
		var err error
		if plain, err = k.b.api.Decrypt(s, in); err != nil {
			return fmt.Errorf("C_Decrypt: %w", err)
		}
		return nil
	})
	switch {
	case err == nil:
		return plain, nil, nil
	case unavailable(err) || kgerr.KindOf(err) != kgerr.Internal:
		return nil, initErr, k.b.fail("decrypt", k.id, err)
	}
	return nil, initErr, decryptFailed(err)
}

func decryptFailed(cause error) error {
	return kgerr.Wrap(kgerr.InvalidArgument, cause, backends.DecryptFailed)
}

// checkCrypt checks usage, algorithm and context for Encrypt and Decrypt.
func (k *Key) checkCrypt(op string, alg keys.EncryptionAlgorithm, encCtx map[string]string) error {
	if err := k.needUsage(op, keys.EncryptDecrypt); err != nil {
		return err
	}
	switch {
	case k.spec == keys.SymmetricDefault && alg == keys.SymmetricDefaultAlg:
	case k.spec.IsRSA() && alg == keys.RSAESOAEPSHA256:
		if len(encCtx) != 0 {
			return kgerr.Errorf(kgerr.InvalidArgument, "encryption context: not allowed with %s", alg)
		}
	default:
		return kgerr.Errorf(kgerr.InvalidArgument, "encryption algorithm %q is not valid for key spec %s", alg, k.spec)
	}
	return nil
}
