//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// opensslWrap wraps material under pub with alg the way the README tells
// an operator to, with the openssl binary.
func opensslWrap(t *testing.T, pub *rsa.PublicKey, alg backends.WrappingAlgorithm, material []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) {
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	md := "sha1"
	if alg.SHA256() {
		md = "sha256"
	}
	wrapPub, in := write("WrappingPublicKey.bin", der), write("material.bin", material)
	if alg.AESKeyWrap() {
		aes := make([]byte, 32)
		rand.Read(aes)
		aesFile := write("aes.bin", aes)
		run("enc", "-id-aes256-wrap-pad", "-K", hex.EncodeToString(aes), "-iv", "A65959A6", "-in", in, "-out", filepath.Join(dir, "material.wrapped"))
		in = aesFile
	}
	run("pkeyutl", "-encrypt", "-in", in, "-out", filepath.Join(dir, "rsa.wrapped"), "-inkey", wrapPub, "-keyform", "DER", "-pubin",
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:"+md, "-pkeyopt", "rsa_mgf1_md:"+md)
	out, err := os.ReadFile(filepath.Join(dir, "rsa.wrapped"))
	if err != nil {
		t.Fatal(err)
	}
	if alg.AESKeyWrap() {
		rest, err := os.ReadFile(filepath.Join(dir, "material.wrapped"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rest...)
	}
	return out
}

// TestImportKey imports an AES key, an HMAC key and an RSA private key
// wrapped by openssl, and uses each with the material it was made from.
func TestImportKey(t *testing.T) {
	cfg, _ := testConfig(t)
	b := openTest(t, cfg)
	ctx := context.Background()

	importAs := func(alg backends.WrappingAlgorithm, spec keys.Spec, usage keys.Usage, material []byte) (backends.Key, error) {
		t.Helper()
		w, err := b.NewWrappingKey(ctx, backends.WrappingRequest{Label: "import-test/wrap", Algorithm: alg})
		wid, pub := w.ID, w.Public
		if err != nil {
			t.Fatal(err)
		}
		defer b.Destroy(ctx, wid)
		if pub.N.BitLen() != 3072 {
			t.Fatalf("wrapping key has %d bits", pub.N.BitLen())
		}
		if l, err := b.WrappingKeyLabel(ctx, wid); err != nil || l != "import-test/wrap" {
			t.Fatalf("label %q, %v", l, err)
		}
		id, err := b.ImportKey(ctx, backends.ImportRequest{WrappingKeyID: wid, Algorithm: alg, Material: opensslWrap(t, pub, alg, material),
			Spec: spec, Usage: usage, Label: "import-test/" + string(spec)})
		if err != nil {
			return nil, err
		}
		return b.Open(ctx, id, spec, usage)
	}

	// SYMMETRIC_DEFAULT: what the token encrypts, the known key opens.
	aesKey := make([]byte, 32)
	rand.Read(aesKey)
	k, err := importAs(backends.RSAAESKeyWrapSHA1, keys.SymmetricDefault, keys.EncryptDecrypt, aesKey)
	if err != nil {
		t.Fatal(err)
	}
	if p := k.(*Key).prov; p.Local || p.NeverExtractable {
		t.Errorf("imported key's provenance says generated in the token: %+v", p)
	}
	ct, err := k.Encrypt(ctx, keys.SymmetricDefaultAlg, []byte("carried over"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := k.Decrypt(ctx, keys.SymmetricDefaultAlg, ct, nil); err != nil || string(pt) != "carried over" {
		t.Fatalf("decrypt: %q, %v", pt, err)
	}
	if pt := gcmOpen(t, aesKey, ct); string(pt) != "carried over" {
		t.Fatalf("the known key opened %q", pt)
	}

	// HMAC_256: the same tag as the known key.
	macKey := make([]byte, 32)
	rand.Read(macKey)
	k, err = importAs(backends.RSAAESKeyWrapSHA1, keys.HMAC256, keys.GenerateVerifyMac, macKey)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := k.MAC(ctx, keys.HMACSHA256, []byte("msg"))
	if err != nil {
		t.Fatal(err)
	}
	want := hmac.New(sha256.New, macKey)
	want.Write([]byte("msg"))
	if !bytes.Equal(tag, want.Sum(nil)) {
		t.Fatal("imported HMAC key gives another tag")
	}

	// RSA_2048 private key, AES key wrap: signs, the known public key verifies.
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		t.Fatal(err)
	}
	k, err = importAs(backends.RSAAESKeyWrapSHA1, keys.RSA2048, keys.SignVerify, p8)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("signed after import"))
	sig, err := k.Sign(ctx, keys.RSASSAPSSSHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if err := rsa.VerifyPSS(&rk.PublicKey, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		t.Fatalf("the known public key does not verify: %v", err)
	}

	// EC P-256 and P-384 private keys: the token derives no public point,
	// keygate recovers it from the imported key's signatures; it is the
	// known key's, and verifies what the imported key signs.
	for _, tc := range []struct {
		spec  keys.Spec
		curve elliptic.Curve
		alg   keys.SigningAlgorithm
		hash  crypto.Hash
	}{{keys.ECCNISTP256, elliptic.P256(), keys.ECDSASHA256, crypto.SHA256}, {keys.ECCNISTP384, elliptic.P384(), keys.ECDSASHA384, crypto.SHA384}} {
		ek, _ := ecdsa.GenerateKey(tc.curve, rand.Reader)
		ep8, _ := x509.MarshalPKCS8PrivateKey(ek)
		k, err = importAs(backends.RSAAESKeyWrapSHA1, tc.spec, keys.SignVerify, ep8)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if !ek.PublicKey.Equal(k.Public()) {
			t.Fatalf("%s: the imported key's public key is not the known one", tc.spec)
		}
		h := tc.hash.New()
		h.Write([]byte("acsSignedContent"))
		sig, err := k.Sign(ctx, tc.alg, h.Sum(nil))
		if err != nil || !ecdsa.VerifyASN1(&ek.PublicKey, h.Sum(nil), sig) {
			t.Fatalf("%s: the known public key does not verify the imported key's signature: %v", tc.spec, err)
		}
	}
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ep8, _ := x509.MarshalPKCS8PrivateKey(ek)
	if _, err := importAs(backends.RSAAESKeyWrapSHA1, keys.ECCNISTP256, keys.KeyAgreement, ep8); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Errorf("a KEY_AGREEMENT EC key: %v, want FailedPrecondition", err)
	}

	// Bad input: a 16-byte AES key is not SYMMETRIC_DEFAULT; an HMAC key
	// is not an AES key's size; a private key needs AES key wrap; a P-256
	// key is not P-384, nor an RSA key.
	for _, tc := range []struct {
		alg      backends.WrappingAlgorithm
		spec     keys.Spec
		usage    keys.Usage
		material []byte
	}{
		{backends.RSAAESKeyWrapSHA1, keys.SymmetricDefault, keys.EncryptDecrypt, aesKey[:16]},
		{backends.RSAAESKeyWrapSHA1, keys.HMAC512, keys.GenerateVerifyMac, macKey},
		{backends.RSAAESKeyWrapSHA1, keys.RSA3072, keys.SignVerify, p8},
		{backends.RSAAESKeyWrapSHA1, keys.RSA2048, keys.SignVerify, aesKey},
		{backends.RSAAESKeyWrapSHA1, keys.ECCNISTP384, keys.SignVerify, ep8},
		{backends.RSAAESKeyWrapSHA1, keys.ECCNISTP256, keys.SignVerify, p8},
	} {
		_, err := importAs(tc.alg, tc.spec, tc.usage, tc.material)
		if kgerr.KindOf(err) != kgerr.InvalidArgument {
			t.Errorf("%s %s with %d bytes: %v, want InvalidArgument", tc.alg, tc.spec, len(tc.material), err)
		}
	}
}

// TestWrappingAlgorithmRefused: SoftHSM 2.6 has OAEP with SHA-1 only, so a
// SHA-256 import is refused up front, naming the mechanism; OAEP alone is
// refused as the token does not say how long the key it unwrapped is.
func TestWrappingAlgorithmRefused(t *testing.T) {
	cfg, _ := testConfig(t)
	b := openTest(t, cfg)
	for alg, want := range map[backends.WrappingAlgorithm]string{
		backends.RSAESOAEPSHA256:     "CKM_RSA_PKCS_OAEP with SHA-256",
		backends.RSAAESKeyWrapSHA256: "CKM_RSA_PKCS_OAEP with SHA-256",
		backends.RSAESOAEPSHA1:       "CKA_VALUE_LEN",
	} {
		_, err := b.NewWrappingKey(context.Background(), backends.WrappingRequest{Label: "import-test/refused", Algorithm: alg})
		if kgerr.KindOf(err) != kgerr.FailedPrecondition || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want FailedPrecondition naming %s", alg, err, want)
		}
	}
}

// gcmOpen opens the backend's AES-GCM blob (IV, then ciphertext and tag)
// with the key in Go.
func gcmOpen(t *testing.T, key, blob []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := g.Open(nil, blob[:gcmIVSize], blob[gcmIVSize:], backends.ContextAAD(nil))
	if err != nil {
		t.Fatal(err)
	}
	return pt
}
