//go:build cgo

package pkcs11key_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/client/pkcs11key"
	"github.com/keygate/keygate/test/softhsm"
)

func uri(tok softhsm.Token, object, pinFile string) string {
	return fmt.Sprintf("pkcs11:token=%s;object=%s?module-path=%s&pin-source=file:%s", tok.Label, object, tok.Module, pinFile)
}

func pinFile(t *testing.T, pin string) string {
	f := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(f, []byte(pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// Keys generated in the token sign as TLS asks: ECDSA over SHA-256 and
// SHA-384, RSA PKCS#1 v1.5 and PSS; opened again by URI, they are the
// same keys.
func TestGenerateOpenSign(t *testing.T) {
	ctx := context.Background()
	tok := softhsm.New(t)
	pin := pinFile(t, tok.PIN)
	d256 := sha256.Sum256([]byte("handshake"))
	d384 := sha512.Sum384([]byte("handshake"))
	for _, spec := range []string{"ECC_NIST_P256", "ECC_NIST_P384", "RSA_2048"} {
		t.Run(spec, func(t *testing.T) {
			u := uri(tok, "key-"+strings.ToLower(spec), pin)
			gen, err := pkcs11key.Generate(ctx, u, spec)
			if err != nil {
				t.Fatal(err)
			}
			gen.Close()
			if _, err := pkcs11key.Generate(ctx, u, spec); err == nil || !strings.Contains(err.Error(), "already has a private key") {
				t.Fatalf("a second key with the same label: %v", err)
			}
			k, err := pkcs11key.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(gen.Public()) {
				t.Fatal("the opened key is not the generated one")
			}
			switch pub := k.Public().(type) {
			case *ecdsa.PublicKey:
				d, h := d256[:], crypto.SHA256
				if spec == "ECC_NIST_P384" {
					d, h = d384[:], crypto.SHA384
				}
				sig, err := k.Sign(rand.Reader, d, h)
				if err != nil || !ecdsa.VerifyASN1(pub, d, sig) {
					t.Fatalf("ECDSA: %v", err)
				}
			case *rsa.PublicKey:
				sig, err := k.Sign(rand.Reader, d256[:], crypto.SHA256)
				if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, d256[:], sig) != nil {
					t.Fatalf("PKCS#1 v1.5: %v", err)
				}
				pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				sig, err = k.Sign(rand.Reader, d256[:], pss)
				if err != nil || rsa.VerifyPSS(pub, crypto.SHA256, d256[:], sig, pss) != nil {
					t.Fatalf("PSS: %v", err)
				}
			default:
				t.Fatalf("public key %T", pub)
			}
			if _, err := k.Sign(rand.Reader, d256[:20], crypto.SHA256); err == nil {
				t.Fatal("a short digest was signed")
			}
			if _, err := k.Sign(rand.Reader, d256[:20], crypto.SHA1); err == nil {
				t.Fatal("SHA-1 was signed")
			}
		})
	}
}

// A wrong PIN, a missing key or token, and a URI without a PIN and no
// prompt fail with errors that say what was looked for and hold no PIN.
func TestOpenFailsClearly(t *testing.T) {
	ctx := context.Background()
	tok := softhsm.New(t)
	good := pinFile(t, tok.PIN)
	k, err := pkcs11key.Generate(ctx, uri(tok, "alice", good), "ECC_NIST_P256")
	if err != nil {
		t.Fatal(err)
	}
	k.Close()

	_, err = pkcs11key.Open(ctx, uri(tok, "alice", pinFile(t, "99999999")))
	if !errors.Is(err, pkcs11key.ErrPINIncorrect) || strings.Contains(err.Error(), "99999999") || !strings.Contains(err.Error(), tok.Label) {
		t.Errorf("wrong PIN: %v", err)
	}
	_, err = pkcs11key.Open(ctx, uri(tok, "bob", good))
	if err == nil || !strings.Contains(err.Error(), `object="bob"`) || !strings.Contains(err.Error(), tok.Label) {
		t.Errorf("missing object: %v", err)
	}
	_, err = pkcs11key.Open(ctx, strings.Replace(uri(tok, "alice", good), tok.Label, "no-such-token", 1))
	if err == nil || !strings.Contains(err.Error(), `no token "no-such-token"`) {
		t.Errorf("missing token: %v", err)
	}
	noPIN := fmt.Sprintf("pkcs11:token=%s;object=alice?module-path=%s", tok.Label, tok.Module)
	if _, err = pkcs11key.Open(ctx, noPIN); err == nil || !strings.Contains(err.Error(), "no pin-source or pin-value") {
		t.Errorf("no PIN, no prompt: %v", err)
	}
	asked := ""
	k, err = pkcs11key.Open(ctx, noPIN, pkcs11key.WithPINPrompt(func(_ context.Context, token string) (string, error) {
		asked = token
		return tok.PIN, nil
	}))
	if err != nil || asked != tok.Label {
		t.Fatalf("prompted PIN: asked for %q: %v", asked, err)
	}
	k.Close()
	if _, err := k.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); err == nil {
		t.Fatal("a closed key signed")
	}
}
