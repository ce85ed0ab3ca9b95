//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"
)

// rawDecrypt is textbook RSA, what CKM_RSA_X_509 computes in the token.
func rawDecrypt(priv *rsa.PrivateKey, c []byte) []byte {
	m := new(big.Int).Exp(new(big.Int).SetBytes(c), priv.D, priv.N)
	return m.Bytes() // leading zeros dropped, as some tokens do
}

func TestOAEPUnpad(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k := priv.Size()
	for _, msg := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte{1}, k-2*sha256.Size-2)} {
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, msg, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := oaepUnpadSHA256(rawDecrypt(priv, ct), k)
		if !ok || !bytes.Equal(got, msg) {
			t.Errorf("unpad(%d-byte message) = %x, %v", len(msg), got, ok)
		}
	}
	ct, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, []byte("label"), []byte("other label"))
	if _, ok := oaepUnpadSHA256(rawDecrypt(priv, ct), k); ok {
		t.Error("a ciphertext under another OAEP label was accepted")
	}
	ct, _ = rsa.EncryptPKCS1v15(rand.Reader, &priv.PublicKey, []byte("v1.5"))
	if _, ok := oaepUnpadSHA256(rawDecrypt(priv, ct), k); ok {
		t.Error("a PKCS#1 v1.5 ciphertext was accepted as OAEP")
	}
	if _, ok := oaepUnpadSHA256(make([]byte, k+1), k); ok {
		t.Error("an over-long input was accepted")
	}
}
