package audit

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// CheckpointSpecs are the key specs a checkpoint key may have, each with
// the algorithm that signs the SHA-256 checkpoint digest. ECC_NIST_P256 is
// the default; RSA serves tokens without EC (opencryptoki's software token).
var CheckpointSpecs = map[keys.Spec]keys.SigningAlgorithm{
	keys.ECCNISTP256: keys.ECDSASHA256,
	keys.RSA2048:     keys.RSASSAPSSSHA256,
	keys.RSA3072:     keys.RSASSAPSSSHA256,
	keys.RSA4096:     keys.RSASSAPSSSHA256,
}

// KeySigner adapts a backend key to Signer: a SIGN_VERIFY key (in the HSM
// or KMS) of one of the CheckpointSpecs.
func KeySigner(k backends.Key) (Signer, error) {
	alg, ok := CheckpointSpecs[k.Spec()]
	if !ok || k.Usage() != keys.SignVerify {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition,
			"audit checkpoint key %s is %s/%s, want SIGN_VERIFY with ECC_NIST_P256 or RSA_2048/3072/4096", k.ID(), k.Spec(), k.Usage())
	}
	_, isEC := k.Public().(*ecdsa.PublicKey)
	_, isRSA := k.Public().(*rsa.PublicKey)
	if isEC != k.Spec().IsEC() || isRSA != k.Spec().IsRSA() {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "audit checkpoint key %s: its public key (%T) does not match its spec %s", k.ID(), k.Public(), k.Spec())
	}
	return keySigner{k, alg}, nil
}

type keySigner struct {
	k   backends.Key
	alg keys.SigningAlgorithm
}

func (s keySigner) Sign(ctx context.Context, digest []byte) ([]byte, error) {
	return s.k.Sign(ctx, s.alg, digest)
}

func (s keySigner) Public() crypto.PublicKey { return s.k.Public() }

// checkpointKey accepts the public key types a checkpoint key may have.
func checkpointKey(pub crypto.PublicKey) error {
	switch pub.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey:
		return nil
	}
	return fmt.Errorf("audit: checkpoint key is %T, want an ECDSA or RSA public key", pub)
}

// VerifySignature checks a signature by the checkpoint key over a SHA-256
// digest (a checkpoint's, or anything else the key signs under its own
// domain): ECDSA (DER), or RSASSA-PSS with SHA-256 and a 32-byte salt, as
// KMS and the PKCS#11 backend make it for an RSA checkpoint key.
func VerifySignature(pub crypto.PublicKey, digest, sig []byte) bool {
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pub, digest, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPSS(pub, crypto.SHA256, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
	}
	return false
}
