package backendtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

func (s *suite) testRSAOAEP(t *testing.T) {
	ctx := context.Background()
	plain := []byte("sdkEncData content-encryption key")
	for _, spec := range []keys.Spec{keys.RSA2048, keys.RSA3072, keys.RSA4096} {
		k := s.keys[keyCase{Spec: spec, Usage: keys.EncryptDecrypt}]
		// Encrypted by a peer with Go's crypto, as a 3DS SDK would.
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public().(*rsa.PublicKey), plain, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := k.Decrypt(ctx, keys.RSAESOAEPSHA256, ct, nil)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: Decrypt(Go OAEP ciphertext) = %q, %v", spec, got, err)
		}
		// And by the backend itself.
		ct2, err := k.Encrypt(ctx, keys.RSAESOAEPSHA256, plain, nil)
		if err != nil {
			t.Fatalf("%s: Encrypt: %v", spec, err)
		}
		if got, err := k.Decrypt(ctx, keys.RSAESOAEPSHA256, ct2, nil); err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: round trip = %q, %v", spec, got, err)
		}
		bad := bytes.Clone(ct)
		bad[len(bad)/2] ^= 1
		_, err = k.Decrypt(ctx, keys.RSAESOAEPSHA256, bad, nil)
		wantDecryptFailed(t, string(spec)+": Decrypt(tampered)", err)
		_, err = k.Encrypt(ctx, keys.RSAESOAEPSHA256, plain, map[string]string{"a": "b"})
		wantKind(t, string(spec)+": Encrypt with a context under RSA-OAEP", err, kgerr.InvalidArgument)
	}
}

func (s *suite) testAESGCM(t *testing.T) {
	ctx := context.Background()
	k := s.keys[keyCase{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt}]
	alg := keys.SymmetricDefaultAlg
	encCtx := map[string]string{"tenant": "acs-1", "purpose": "pan-at-rest"}
	plain := []byte("4111111111111111")
	blob, err := k.Encrypt(ctx, alg, plain, encCtx)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if bytes.Contains(blob, plain) {
		t.Fatal("ciphertext contains the plaintext")
	}
	if got, err := k.Decrypt(ctx, alg, blob, map[string]string{"purpose": "pan-at-rest", "tenant": "acs-1"}); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Decrypt = %q, %v; want the plaintext", got, err)
	}
	blob2, err := k.Encrypt(ctx, alg, plain, encCtx)
	if err != nil || bytes.Equal(blob, blob2) {
		t.Errorf("two encryptions of one plaintext are equal (IV reuse?) or failed: %v", err)
	}
	for name, c := range map[string]map[string]string{
		"wrong value": {"tenant": "acs-2", "purpose": "pan-at-rest"},
		"missing key": {"tenant": "acs-1"},
		"extra key":   {"tenant": "acs-1", "purpose": "pan-at-rest", "x": "y"},
		"empty":       nil,
	} {
		_, err := k.Decrypt(ctx, alg, blob, c)
		wantDecryptFailed(t, "Decrypt with context "+name, err)
	}
	for _, i := range []int{0, len(blob) / 2, len(blob) - 1} {
		bad := bytes.Clone(blob)
		bad[i] ^= 0x80
		_, err := k.Decrypt(ctx, alg, bad, encCtx)
		wantDecryptFailed(t, "Decrypt(blob with a flipped bit)", err)
	}
	_, err = k.Decrypt(ctx, alg, blob[:10], encCtx)
	wantDecryptFailed(t, "Decrypt(truncated blob)", err)
	// An empty context round trips too (KMS, like keygate, needs at least
	// one byte of plaintext).
	blob, err = k.Encrypt(ctx, alg, []byte{0}, nil)
	if err != nil {
		t.Fatalf("Encrypt(no context): %v", err)
	}
	if got, err := k.Decrypt(ctx, alg, blob, map[string]string{}); err != nil || !bytes.Equal(got, []byte{0}) {
		t.Errorf("Decrypt(no context) = %x, %v", got, err)
	}
	// Another AES key must not open this key's blobs.
	other, err := s.b.CreateKey(ctx, backends.CreateRequest{Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt, Label: "backendtest-aes-other/v1"})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := s.b.Open(ctx, other, keys.SymmetricDefault, keys.EncryptDecrypt)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ = k.Encrypt(ctx, alg, plain, encCtx)
	_, err = ok.Decrypt(ctx, alg, blob, encCtx)
	wantDecryptFailed(t, "Decrypt under another key", err)
	if dk, isGen := k.(backends.DataKeyGenerator); isGen {
		testDataKey(t, k, dk)
	}
}

func testDataKey(t *testing.T, k backends.Key, dk backends.DataKeyGenerator) {
	ctx := context.Background()
	encCtx := map[string]string{"use": "data-key"}
	plain, blob, err := dk.GenerateDataKey(ctx, 32, encCtx)
	if err != nil || len(plain) != 32 {
		t.Fatalf("GenerateDataKey = %d bytes, %v", len(plain), err)
	}
	got, err := k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, encCtx)
	if err != nil || !bytes.Equal(got, plain) {
		t.Errorf("Decrypt(data key blob) = %v; want the data key", err)
	}
}

// wantDecryptFailed checks the one message every decryption failure gets.
func wantDecryptFailed(t *testing.T, what string, err error) {
	t.Helper()
	wantKind(t, what, err, kgerr.InvalidArgument)
	if err != nil && kgerr.Message(err) != backends.DecryptFailed {
		t.Errorf("%s: message %q, want backends.DecryptFailed", what, kgerr.Message(err))
	}
}
