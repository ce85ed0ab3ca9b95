package qualify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// op is one operation on an open key; it returns a wrongResult when the
// answer is wrong.
type op struct {
	name string
	run  func(ctx context.Context, k backends.Key) error
}

// opsFor lists the operations a key of kind is used for, each checked
// against Go's crypto through the key's public half where there is one.
func opsFor(kind backends.KeyKind) []op {
	switch {
	case kind.Usage == keys.SignVerify:
		var ops []op
		for _, alg := range kind.Spec.SigningAlgorithms() {
			ops = append(ops, op{"sign " + string(alg), func(ctx context.Context, k backends.Key) error { return sign(ctx, k, alg) }})
		}
		return ops
	case kind.Usage == keys.KeyAgreement:
		return []op{{"derive shared secret", derive}}
	case kind.Spec.IsRSA():
		return []op{{"decrypt " + string(keys.RSAESOAEPSHA256), decryptOAEP}}
	case kind.Spec == keys.SymmetricDefault:
		return []op{{"encrypt/decrypt " + string(keys.SymmetricDefaultAlg), sealOpen}}
	}
	return []op{{"MAC " + string(kind.Spec.MacAlgorithm()), mac}}
}

var msg = []byte("keygate qualify: acsSignedContent header.payload")

func sign(ctx context.Context, k backends.Key, alg keys.SigningAlgorithm) error {
	h := alg.Hash().New()
	h.Write(msg)
	digest := h.Sum(nil)
	sig, err := k.Sign(ctx, alg, digest)
	if err != nil {
		return err
	}
	if !backends.VerifyLocal(k.Public(), alg, digest, sig) {
		return wrongf("the signature does not verify with Go's crypto against the key's public key")
	}
	digest[0] ^= 1
	if backends.VerifyLocal(k.Public(), alg, digest, sig) {
		return wrongf("the signature verifies over another digest")
	}
	return nil
}

func derive(ctx context.Context, k backends.Key) error {
	pub, ok := k.Public().(*ecdsa.PublicKey)
	if !ok {
		return wrongf("the public key is a %T", k.Public())
	}
	mine, err := pub.ECDH()
	if err != nil {
		return wrongf("the public key is not a valid point: %v", err)
	}
	peer, err := mine.Curve().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	z, err := k.DeriveSharedSecret(ctx, peer.PublicKey())
	if err != nil {
		return err
	}
	want, err := peer.ECDH(mine)
	if err != nil {
		return err
	}
	if !bytes.Equal(z, want) {
		return wrongf("Z differs from crypto/ecdh's")
	}
	return nil
}

func decryptOAEP(ctx context.Context, k backends.Key) error {
	pub, ok := k.Public().(*rsa.PublicKey)
	if !ok {
		return wrongf("the public key is a %T", k.Public())
	}
	plain := []byte("sdkEncData content-encryption key")
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, plain, nil)
	if err != nil {
		return err
	}
	got, err := k.Decrypt(ctx, keys.RSAESOAEPSHA256, ct, nil)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, plain) {
		return wrongf("the plaintext differs from what Go's OAEP encrypted")
	}
	ct[len(ct)/2] ^= 1
	if _, err := k.Decrypt(ctx, keys.RSAESOAEPSHA256, ct, nil); kgerr.KindOf(err) != kgerr.InvalidArgument {
		return wrongf("a tampered ciphertext gave %v, want the decryption failure", err)
	}
	return nil
}

func sealOpen(ctx context.Context, k backends.Key) error {
	plain := []byte("4111111111111111")
	encCtx := map[string]string{"purpose": "qualify"}
	blob, err := k.Encrypt(ctx, keys.SymmetricDefaultAlg, plain, encCtx)
	if err != nil {
		return err
	}
	if bytes.Contains(blob, plain) {
		return wrongf("the ciphertext contains the plaintext")
	}
	got, err := k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, encCtx)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, plain) {
		return wrongf("the round trip changed the plaintext")
	}
	if _, err := k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, map[string]string{"purpose": "other"}); kgerr.KindOf(err) != kgerr.InvalidArgument {
		return wrongf("another encryption context gave %v, want the decryption failure", err)
	}
	blob[len(blob)-1] ^= 1
	if _, err := k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, encCtx); kgerr.KindOf(err) != kgerr.InvalidArgument {
		return wrongf("a tampered tag gave %v, want the decryption failure", err)
	}
	return nil
}

// mac cannot compare with Go's HMAC (the key never leaves the backend), so
// it checks what can be checked from outside: the length, determinism,
// and that another message gives another MAC.
func mac(ctx context.Context, k backends.Key) error {
	alg := k.Spec().MacAlgorithm()
	m1, err := k.MAC(ctx, alg, msg)
	if err != nil {
		return err
	}
	if len(m1) != alg.Hash().Size() {
		return wrongf("the MAC is %d bytes, want %d", len(m1), alg.Hash().Size())
	}
	if m2, err := k.MAC(ctx, alg, msg); err != nil || !bytes.Equal(m1, m2) {
		return wrongf("the MAC is not deterministic (%v)", err)
	}
	if m3, err := k.MAC(ctx, alg, append(msg[:len(msg):len(msg)], '.')); err != nil || bytes.Equal(m1, m3) {
		return wrongf("another message gives the same MAC (%v)", err)
	}
	return nil
}
