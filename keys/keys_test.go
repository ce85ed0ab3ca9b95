package keys

import (
	"bytes"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/kgerr"
)

func TestCiphertextRoundTrip(t *testing.T) {
	for _, alg := range []EncryptionAlgorithm{SymmetricDefaultAlg, RSAESOAEPSHA256} {
		c := Ciphertext{Key: "data-key", Version: 7, Algorithm: alg, Blob: []byte{1, 2, 3}}
		got, err := ParseCiphertext(c.Marshal())
		if err != nil || got.Key != c.Key || got.Version != 7 || got.Algorithm != alg || !bytes.Equal(got.Blob, c.Blob) {
			t.Fatalf("%s: %+v %v", alg, got, err)
		}
	}
}

func FuzzParseCiphertext(f *testing.F) {
	f.Add((&Ciphertext{Key: "k", Version: 1, Algorithm: SymmetricDefaultAlg, Blob: []byte("x")}).Marshal())
	f.Add([]byte("KG\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCiphertext(b)
		if err != nil {
			if kgerr.KindOf(err) != kgerr.InvalidArgument {
				t.Fatalf("a bad ciphertext must be InvalidArgument: %v", err)
			}
			return
		}
		if c.Format == ctFormat1 {
			// Marshal writes format 2: the same fields, in the new framing.
			again, err := ParseCiphertext(c.Marshal())
			if err != nil || again.Key != c.Key || again.Version != c.Version || again.Algorithm != c.Algorithm || !bytes.Equal(again.Blob, c.Blob) {
				t.Fatalf("format 1 %x does not survive rewriting in format 2: %+v %v", b, again, err)
			}
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("parse/marshal is not the identity for %x", b)
		}
	})
}

func TestParseCiphertextRejects(t *testing.T) {
	good := (&Ciphertext{Key: "data-key", Version: 1, Algorithm: SymmetricDefaultAlg, Blob: []byte("blob")}).Marshal()
	for name, b := range map[string][]byte{
		"empty":         nil,
		"other magic":   append([]byte("XG"), good[2:]...),
		"other format":  append([]byte("KG\x03"), good[3:]...),
		"truncated":     good[:6],
		"bad algorithm": append(append([]byte{}, good[:5+8+4]...), 9),
		"bad name":      (&Ciphertext{Key: "../x", Version: 1, Algorithm: SymmetricDefaultAlg}).Marshal(),
	} {
		if _, err := ParseCiphertext(b); kgerr.KindOf(err) != kgerr.InvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Format-1 ciphertexts, written before names were bound, still parse, and
// their backend context stays the caller's.
func TestCiphertextFormat1(t *testing.T) {
	old := append([]byte("KG\x01\x08data-key"), 0, 0, 0, 3, 1, 'b', 'l', 'o', 'b')
	ct, err := ParseCiphertext(old)
	if err != nil || ct.Key != "data-key" || ct.Version != 3 || ct.Format != 1 || string(ct.Blob) != "blob" {
		t.Fatalf("format 1: %+v %v", ct, err)
	}
	ec := map[string]string{"a": "b"}
	if got := ct.Context(ec); len(got) != 1 {
		t.Errorf("format 1 context = %v; want the caller's", got)
	}
}

// Format 2 binds the key name and version into the backend's context, so
// the same blob under another name or version needs another context.
func TestCiphertextBindsKey(t *testing.T) {
	ct, err := ParseCiphertext((&Ciphertext{Key: "pan", Version: 2, Algorithm: SymmetricDefaultAlg}).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	got := ct.Context(map[string]string{"tenant": "x"})
	if got[BoundKeyName] != "pan" || got[BoundKeyVersion] != "2" || got["tenant"] != "x" || len(got) != 3 {
		t.Fatalf("bound context = %v", got)
	}
	rsa := Ciphertext{Key: "pan", Version: 2, Algorithm: RSAESOAEPSHA256}
	if len(rsa.Context(nil)) != 0 {
		t.Error("RSA-OAEP ciphertexts have no context to bind")
	}
	long := strings.Repeat("k", 256)
	if c, err := ParseCiphertext((&Ciphertext{Key: long, Version: 1, Algorithm: SymmetricDefaultAlg}).Marshal()); err != nil || c.Key != long {
		t.Errorf("256-character name: %v", err)
	}
}

func TestSpecs(t *testing.T) {
	if !ECCNISTP256.Allows(KeyAgreement) || ECCNISTP256.Allows(EncryptDecrypt) || !RSA2048.Allows(EncryptDecrypt) || HMAC256.Allows(SignVerify) {
		t.Fatal("spec/usage table is wrong")
	}
	if ECDSASHA384.DigestSize() != 48 || RSASSAPSSSHA512.Hash().Size() != 64 || !RSASSAPSSSHA256.IsPSS() || RSASSAPKCS1V15SHA256.IsPSS() {
		t.Fatal("algorithm properties are wrong")
	}
	if HMAC384.MacAlgorithm() != HMACSHA384 || len(RSA4096.SigningAlgorithms()) != 6 || SymmetricDefault.EncryptionAlgorithms()[0] != SymmetricDefaultAlg {
		t.Fatal("spec algorithms are wrong")
	}
}
