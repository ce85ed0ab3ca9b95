package audit

import (
	"context"
	"crypto"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// KeySigner adapts a backend key to Signer: an ECC_NIST_P256 SIGN_VERIFY
// key (in the HSM or KMS) signing checkpoint digests with ECDSA_SHA_256.
func KeySigner(k backends.Key) (Signer, error) {
	if k.Spec() != keys.ECCNISTP256 || k.Usage() != keys.SignVerify {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition,
			"audit checkpoint key %s is %s/%s, want %s/%s", k.ID(), k.Spec(), k.Usage(), keys.ECCNISTP256, keys.SignVerify)
	}
	if _, err := NewVerifier(k.Public()); err != nil {
		return nil, kgerr.Wrap(kgerr.FailedPrecondition, err, "audit checkpoint key has no usable ECDSA public key")
	}
	return keySigner{k}, nil
}

type keySigner struct{ k backends.Key }

func (s keySigner) Sign(ctx context.Context, digest []byte) ([]byte, error) {
	return s.k.Sign(ctx, keys.ECDSASHA256, digest)
}

func (s keySigner) Public() crypto.PublicKey { return s.k.Public() }
