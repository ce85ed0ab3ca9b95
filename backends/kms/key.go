package kms

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/x509"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Key is an open handle to one KMS key.
type Key struct {
	b     *Backend
	arn   string
	spec  keys.Spec
	usage keys.Usage
	pub   crypto.PublicKey
}

var (
	_ backends.Key              = (*Key)(nil)
	_ backends.DataKeyGenerator = (*Key)(nil)
)

func (k *Key) ID() string               { return k.arn }
func (k *Key) Spec() keys.Spec          { return k.spec }
func (k *Key) Usage() keys.Usage        { return k.usage }
func (k *Key) Public() crypto.PublicKey { return k.pub }

// State is the key's current KMS state: "Enabled", "Disabled",
// "PendingDeletion", ...
func (k *Key) State(ctx context.Context) (string, error) {
	return k.b.KeyState(ctx, k.arn)
}

// Sign signs a digest (MessageType DIGEST). ECDSA signatures are DER.
func (k *Key) Sign(ctx context.Context, alg keys.SigningAlgorithm, digest []byte) ([]byte, error) {
	if err := k.checkSign(alg, digest); err != nil {
		return nil, err
	}
	ctx = withNote(ctx)
	out, err := k.b.client.Sign(ctx, &kms.SignInput{KeyId: aws.String(k.arn), Message: digest,
		MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpec(alg)})
	if err != nil {
		return nil, k.b.fail(ctx, "Sign", err)
	}
	done(ctx, out.ResultMetadata)
	if err := k.answeredBy("Sign", out.KeyId); err != nil {
		return nil, err
	}
	if len(out.Signature) == 0 {
		return nil, k.b.errorf(kgerr.Internal, "Sign returned no signature")
	}
	return out.Signature, nil
}

func (k *Key) checkSign(alg keys.SigningAlgorithm, digest []byte) error {
	if err := k.needUsage(keys.SignVerify); err != nil {
		return err
	}
	if !slices.Contains(k.spec.SigningAlgorithms(), alg) {
		return k.b.errorf(kgerr.InvalidArgument, "signing algorithm %q does not fit key spec %s", alg, k.spec)
	}
	if len(digest) != alg.DigestSize() {
		return k.b.errorf(kgerr.InvalidArgument, "digest: %d bytes, %s signs %d-byte digests", len(digest), alg, alg.DigestSize())
	}
	return nil
}

// MAC computes an HMAC of msg with GenerateMac.
func (k *Key) MAC(ctx context.Context, alg keys.MacAlgorithm, msg []byte) ([]byte, error) {
	if err := k.checkMAC(alg, msg); err != nil {
		return nil, err
	}
	ctx = withNote(ctx)
	out, err := k.b.client.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: aws.String(k.arn), Message: msg,
		MacAlgorithm: types.MacAlgorithmSpec(alg)})
	if err != nil {
		return nil, k.b.fail(ctx, "GenerateMac", err)
	}
	done(ctx, out.ResultMetadata)
	if err := k.answeredBy("GenerateMac", out.KeyId); err != nil {
		return nil, err
	}
	if len(out.Mac) != alg.Hash().Size() {
		return nil, k.b.errorf(kgerr.Internal, "GenerateMac returned %d bytes for %s", len(out.Mac), alg)
	}
	return out.Mac, nil
}

func (k *Key) checkMAC(alg keys.MacAlgorithm, msg []byte) error {
	if err := k.needUsage(keys.GenerateVerifyMac); err != nil {
		return err
	}
	if alg != k.spec.MacAlgorithm() {
		return k.b.errorf(kgerr.InvalidArgument, "MAC algorithm %q does not fit key spec %s", alg, k.spec)
	}
	if len(msg) == 0 || len(msg) > keys.MaxMessage {
		return k.b.errorf(kgerr.InvalidArgument, "message: %d bytes, KMS takes 1 to %d", len(msg), keys.MaxMessage)
	}
	return nil
}

// DeriveSharedSecret runs ECDH inside KMS with the peer's public key and
// returns Z; keygate applies its own KDF to it.
func (k *Key) DeriveSharedSecret(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error) {
	if err := k.needUsage(keys.KeyAgreement); err != nil {
		return nil, err
	}
	if peer == nil {
		return nil, k.b.errorf(kgerr.InvalidArgument, "peer public key: missing")
	}
	der, err := x509.MarshalPKIXPublicKey(peer)
	if err != nil {
		return nil, kgerr.Wrap(kgerr.InvalidArgument, err, "kms backend "+quote(k.b.name)+": peer public key cannot be encoded")
	}
	ctx = withNote(ctx)
	out, err := k.b.client.DeriveSharedSecret(ctx, &kms.DeriveSharedSecretInput{KeyId: aws.String(k.arn),
		KeyAgreementAlgorithm: types.KeyAgreementAlgorithmSpecEcdh, PublicKey: der})
	if err != nil {
		return nil, k.b.fail(ctx, "DeriveSharedSecret", err)
	}
	done(ctx, out.ResultMetadata)
	if err := k.answeredBy("DeriveSharedSecret", out.KeyId); err != nil {
		return nil, err
	}
	if len(out.SharedSecret) == 0 {
		return nil, k.b.errorf(kgerr.Internal, "DeriveSharedSecret returned no shared secret")
	}
	return out.SharedSecret, nil
}

func (k *Key) needUsage(u keys.Usage) error {
	if k.usage != u {
		return k.b.errorf(kgerr.FailedPrecondition, "key %s has usage %s, the operation needs %s", k.arn, k.usage, u)
	}
	return nil
}

// answeredBy checks that KMS answered for the key asked for.
func (k *Key) answeredBy(op string, keyID *string) error {
	if got := aws.ToString(keyID); got != k.arn {
		return k.b.errorf(kgerr.Internal, "%s for %s answered for key %q", op, k.arn, got)
	}
	return nil
}
