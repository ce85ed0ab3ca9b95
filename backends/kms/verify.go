package kms

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
)

// Verify checks a signature over a digest. By default it runs locally
// against the public key cached at Open (no KMS call, no KMS quota); with
// verify_remote it calls KMS Verify. A bad signature is (false, nil).
func (k *Key) Verify(ctx context.Context, alg keys.SigningAlgorithm, digest, sig []byte) (bool, error) {
	if err := k.checkSign(alg, digest); err != nil {
		return false, err
	}
	if !k.b.verifyRemote {
		return backends.VerifyLocal(k.pub, alg, digest, sig), nil
	}
	if len(sig) == 0 {
		return false, nil
	}
	ctx = withNote(ctx)
	out, err := k.b.client.Verify(ctx, &kms.VerifyInput{KeyId: aws.String(k.arn), Message: digest, Signature: sig,
		MessageType: types.MessageTypeDigest, SigningAlgorithm: types.SigningAlgorithmSpec(alg)})
	var invalid *types.KMSInvalidSignatureException
	if errors.As(err, &invalid) {
		requestIDOf(ctx, err) // a verification that said no is still a KMS call
		return false, nil
	}
	if err != nil {
		return false, k.b.fail(ctx, "Verify", err)
	}
	done(ctx, out.ResultMetadata)
	if err := k.answeredBy("Verify", out.KeyId); err != nil {
		return false, err
	}
	return out.SignatureValid, nil
}

// VerifyMAC checks a MAC. An HMAC key never leaves KMS, so this always
// calls VerifyMac whatever verify_remote says. A wrong MAC is (false, nil).
func (k *Key) VerifyMAC(ctx context.Context, alg keys.MacAlgorithm, msg, mac []byte) (bool, error) {
	if err := k.checkMAC(alg, msg); err != nil {
		return false, err
	}
	if len(mac) == 0 {
		return false, nil
	}
	ctx = withNote(ctx)
	out, err := k.b.client.VerifyMac(ctx, &kms.VerifyMacInput{KeyId: aws.String(k.arn), Message: msg, Mac: mac,
		MacAlgorithm: types.MacAlgorithmSpec(alg)})
	var invalid *types.KMSInvalidMacException
	if errors.As(err, &invalid) {
		requestIDOf(ctx, err) // a verification that said no is still a KMS call
		return false, nil
	}
	if err != nil {
		return false, k.b.fail(ctx, "VerifyMac", err)
	}
	done(ctx, out.ResultMetadata)
	if err := k.answeredBy("VerifyMac", out.KeyId); err != nil {
		return false, err
	}
	return out.MacValid, nil
}
