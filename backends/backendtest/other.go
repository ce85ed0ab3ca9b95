package backendtest

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

func (s *suite) testHMAC(t *testing.T) {
	ctx := context.Background()
	msg := []byte("CAVV material")
	for _, spec := range []keys.Spec{keys.HMAC256, keys.HMAC384, keys.HMAC512} {
		k := s.keys[keyCase{Spec: spec, Usage: keys.GenerateVerifyMac}]
		alg := spec.MacAlgorithm()
		m1, err := k.MAC(ctx, alg, msg)
		if err != nil {
			t.Fatalf("%s: MAC: %v", spec, err)
		}
		if len(m1) != alg.Hash().Size() {
			t.Errorf("%s: MAC is %d bytes, want %d", spec, len(m1), alg.Hash().Size())
		}
		if m2, err := k.MAC(ctx, alg, msg); err != nil || !bytes.Equal(m1, m2) {
			t.Errorf("%s: MAC is not deterministic: %x vs %x (%v)", spec, m1, m2, err)
		}
		if m3, err := k.MAC(ctx, alg, append(msg, '.')); err != nil || bytes.Equal(m1, m3) {
			t.Errorf("%s: two messages give the same MAC (%v)", spec, err)
		}
	}
	// Key separation: a second key of the same spec gives another MAC.
	id, err := s.b.CreateKey(ctx, backends.CreateRequest{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac, Label: "backendtest-hmac-other/v1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.b.Open(ctx, id, keys.HMAC256, keys.GenerateVerifyMac)
	if err != nil {
		t.Fatal(err)
	}
	a, errA := s.keys[keyCase{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac}].MAC(ctx, keys.HMACSHA256, msg)
	b, errB := other.MAC(ctx, keys.HMACSHA256, msg)
	if errA != nil || errB != nil || bytes.Equal(a, b) {
		t.Errorf("two HMAC keys give the same MAC (%v, %v)", errA, errB)
	}
	_, err = other.MAC(ctx, keys.HMACSHA512, msg)
	wantKind(t, "MAC(HMAC_SHA_512) with an HMAC_256 key", err, kgerr.InvalidArgument)
}

func (s *suite) testECDH(t *testing.T) {
	ctx := context.Background()
	for _, spec := range []keys.Spec{keys.ECCNISTP256, keys.ECCNISTP384} {
		k := s.keys[keyCase{Spec: spec, Usage: keys.KeyAgreement}]
		mine, err := k.Public().(*ecdsa.PublicKey).ECDH()
		if err != nil {
			t.Fatal(err)
		}
		peer, err := mine.Curve().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		z, err := k.DeriveSharedSecret(ctx, peer.PublicKey())
		if err != nil {
			t.Fatalf("%s: DeriveSharedSecret: %v", spec, err)
		}
		want, err := peer.ECDH(mine)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(z, want) {
			t.Errorf("%s: Z from the backend differs from crypto/ecdh's", spec)
		}
	}
	// A peer key on another curve is refused before any derivation.
	wrong, _ := ecdh.P384().GenerateKey(rand.Reader)
	_, err := s.keys[keyCase{Spec: keys.ECCNISTP256, Usage: keys.KeyAgreement}].DeriveSharedSecret(ctx, wrong.PublicKey())
	wantKind(t, "DeriveSharedSecret(P-384 peer, P-256 key)", err, kgerr.InvalidArgument)
}

// testWrongUsage calls every operation a key's usage does not allow.
func (s *suite) testWrongUsage(t *testing.T) {
	ctx := context.Background()
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	digest := make([]byte, 32)
	ops := map[keys.Usage]func(k backends.Key) error{
		keys.SignVerify: func(k backends.Key) error {
			alg := keys.ECDSASHA256
			if k.Spec().IsRSA() {
				alg = keys.RSASSAPSSSHA256
			}
			_, err := k.Sign(ctx, alg, digest)
			return err
		},
		keys.EncryptDecrypt: func(k backends.Key) error {
			_, err := k.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("x"), nil)
			return err
		},
		keys.GenerateVerifyMac: func(k backends.Key) error {
			_, err := k.MAC(ctx, keys.HMACSHA256, []byte("x"))
			return err
		},
		keys.KeyAgreement: func(k backends.Key) error {
			_, err := k.DeriveSharedSecret(ctx, peer.PublicKey())
			return err
		},
	}
	for _, c := range []keyCase{{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}, {Spec: keys.ECCNISTP256, Usage: keys.KeyAgreement},
		{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt}, {Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac}} {
		k := s.keys[c]
		for usage, op := range ops {
			if usage == c.Usage {
				continue
			}
			err := op(k)
			wantKind(t, c.String()+" used for "+string(usage), err, kgerr.FailedPrecondition)
			if err != nil && !strings.Contains(kgerr.Message(err), string(c.Usage)) {
				t.Errorf("%s used for %s: message %q does not name the key's usage", c, usage, kgerr.Message(err))
			}
		}
	}
	// Decrypt too, on a key that cannot decrypt.
	_, err := s.keys[keyCase{Spec: keys.RSA2048, Usage: keys.SignVerify}].Decrypt(ctx, keys.RSAESOAEPSHA256, make([]byte, 256), nil)
	wantKind(t, "RSA SIGN_VERIFY key used for Decrypt", err, kgerr.FailedPrecondition)
}

// testCanceled checks that a call with a cancelled context does not run.
func (s *suite) testCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.keys[keyCase{Spec: keys.ECCNISTP256, Usage: keys.SignVerify}].Sign(ctx, keys.ECDSASHA256, make([]byte, 32))
	wantKind(t, "Sign(cancelled ctx)", err, kgerr.Canceled)
	_, err = s.keys[keyCase{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt}].Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("x"), nil)
	wantKind(t, "Encrypt(cancelled ctx)", err, kgerr.Canceled)
	_, err = s.keys[keyCase{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac}].MAC(ctx, keys.HMACSHA256, []byte("x"))
	wantKind(t, "MAC(cancelled ctx)", err, kgerr.Canceled)
	_, err = s.b.CreateKey(ctx, backends.CreateRequest{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac, Label: "backendtest-canceled/v1"})
	wantKind(t, "CreateKey(cancelled ctx)", err, kgerr.Canceled)
	_, err = s.b.Open(ctx, s.keys[keyCase{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac}].ID(), keys.HMAC256, keys.GenerateVerifyMac)
	wantKind(t, "Open(cancelled ctx)", err, kgerr.Canceled)
}
