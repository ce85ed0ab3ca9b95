package kms

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// maxCiphertext is KMS's limit on a CiphertextBlob.
const maxCiphertext = 6144

// Encrypt encrypts with SYMMETRIC_DEFAULT (the context bound to KMS's
// blob) or RSAES_OAEP_SHA_256 (no context).
func (k *Key) Encrypt(ctx context.Context, alg keys.EncryptionAlgorithm, plaintext []byte, encCtx map[string]string) ([]byte, error) {
	if err := k.checkEncrypt(alg, encCtx); err != nil {
		return nil, err
	}
	max := keys.MaxMessage
	if pub, ok := k.pub.(*rsa.PublicKey); ok {
		max = pub.Size() - 2*sha256.Size - 2 // the OAEP bound
	}
	if len(plaintext) == 0 || len(plaintext) > max {
		return nil, k.b.errorf(kgerr.InvalidArgument, "plaintext: %d bytes, KMS %s encrypts 1 to %d", len(plaintext), alg, max)
	}
	ctx = withNote(ctx)
	out, err := k.b.client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(k.arn), Plaintext: plaintext,
		EncryptionContext: encCtx, EncryptionAlgorithm: types.EncryptionAlgorithmSpec(alg)})
	if err != nil {
		return nil, k.b.fail(ctx, "Encrypt", err)
	}
	done(ctx, out.ResultMetadata)
	if err := k.answeredBy("Encrypt", out.KeyId); err != nil {
		return nil, err
	}
	if len(out.CiphertextBlob) == 0 {
		return nil, k.b.errorf(kgerr.Internal, "Encrypt returned no ciphertext")
	}
	return out.CiphertextBlob, nil
}

// Decrypt reverses Encrypt. The KeyId is always sent, so KMS refuses a
// symmetric blob made under another key (IncorrectKeyException).
func (k *Key) Decrypt(ctx context.Context, alg keys.EncryptionAlgorithm, ciphertext []byte, encCtx map[string]string) ([]byte, error) {
	if err := k.checkEncrypt(alg, encCtx); err != nil {
		return nil, err
	}
	if len(ciphertext) == 0 || len(ciphertext) > maxCiphertext {
		return nil, k.b.errorf(kgerr.InvalidArgument, "ciphertext: %d bytes, KMS takes 1 to %d", len(ciphertext), maxCiphertext)
	}
	ctx = withNote(ctx)
	out, err := k.b.client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(k.arn), CiphertextBlob: ciphertext,
		EncryptionContext: encCtx, EncryptionAlgorithm: types.EncryptionAlgorithmSpec(alg)})
	if err != nil {
		return nil, k.b.fail(ctx, "Decrypt", err)
	}
	done(ctx, out.ResultMetadata)
	if err := k.answeredBy("Decrypt", out.KeyId); err != nil {
		return nil, err
	}
	if out.Plaintext == nil {
		return nil, k.b.errorf(kgerr.Internal, "Decrypt returned no plaintext")
	}
	return out.Plaintext, nil
}

func (k *Key) checkEncrypt(alg keys.EncryptionAlgorithm, encCtx map[string]string) error {
	if err := k.needUsage(keys.EncryptDecrypt); err != nil {
		return err
	}
	if !slices.Contains(k.spec.EncryptionAlgorithms(), alg) {
		return k.b.errorf(kgerr.InvalidArgument, "encryption algorithm %q does not fit key spec %s", alg, k.spec)
	}
	if alg != keys.SymmetricDefaultAlg && len(encCtx) > 0 {
		return k.b.errorf(kgerr.InvalidArgument, "encryption context: %s takes none", alg)
	}
	return nil
}

// maxDataKey is KMS's limit on GenerateDataKey's NumberOfBytes.
const maxDataKey = 1024

// GenerateDataKey has KMS draw a data key of size bytes and return it in
// the clear and encrypted under this key with encCtx bound to it.
func (k *Key) GenerateDataKey(ctx context.Context, size int, encCtx map[string]string) (plaintext, ciphertext []byte, err error) {
	if err := k.checkEncrypt(keys.SymmetricDefaultAlg, encCtx); err != nil {
		return nil, nil, err
	}
	if size < 1 || size > maxDataKey {
		return nil, nil, k.b.errorf(kgerr.InvalidArgument, "data key size: %d bytes, KMS makes 1 to %d", size, maxDataKey)
	}
	ctx = withNote(ctx)
	out, err := k.b.client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(k.arn),
		NumberOfBytes: aws.Int32(int32(size)), EncryptionContext: encCtx})
	if err != nil {
		return nil, nil, k.b.fail(ctx, "GenerateDataKey", err)
	}
	done(ctx, out.ResultMetadata)
	if err := k.answeredBy("GenerateDataKey", out.KeyId); err != nil {
		return nil, nil, err
	}
	if len(out.Plaintext) != size || len(out.CiphertextBlob) == 0 {
		return nil, nil, k.b.errorf(kgerr.Internal, "GenerateDataKey returned a %d-byte key for %d", len(out.Plaintext), size)
	}
	return out.Plaintext, out.CiphertextBlob, nil
}
