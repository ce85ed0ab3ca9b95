package backends

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"

	"github.com/keygate/keygate/keys"
)

// Verifier is implemented by keys whose backend can verify a signature
// itself (KMS Verify, when configured); otherwise the server verifies
// locally against Public with VerifyLocal.
type Verifier interface {
	Verify(ctx context.Context, alg keys.SigningAlgorithm, digest, sig []byte) (bool, error)
}

// MacVerifier is implemented by keys whose backend verifies MACs itself
// (KMS VerifyMac); otherwise the server compares MACs in constant time.
type MacVerifier interface {
	VerifyMAC(ctx context.Context, alg keys.MacAlgorithm, msg, mac []byte) (bool, error)
}

// VerifyLocal checks a signature over a digest with a public key: ECDSA
// (ASN.1 DER), RSASSA-PSS with the salt as long as the digest, or PKCS #1
// v1.5. A bad signature is false; so is a key of another type.
func VerifyLocal(pub crypto.PublicKey, alg keys.SigningAlgorithm, digest, sig []byte) bool {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(p, digest, sig)
	case *rsa.PublicKey:
		if alg.IsPSS() {
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: alg.Hash()}
			return rsa.VerifyPSS(p, alg.Hash(), digest, sig, opts) == nil
		}
		return rsa.VerifyPKCS1v15(p, alg.Hash(), digest, sig) == nil
	}
	return false
}
