package kms

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/test/kmsserver"
)

// wrapMaterial wraps material for alg under pub, as an operator does.
func wrapMaterial(t *testing.T, pub *rsa.PublicKey, alg backends.WrappingAlgorithm, material []byte) []byte {
	t.Helper()
	out, err := kmsserver.WrapKeyMaterial(pub, string(alg), material)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImport brings known HMAC and EC keys into KMS through the backend:
// the wrapping key belongs to a key of origin EXTERNAL made for the import,
// its label binds the import, and the imported key computes what the
// known key computes. KMS's refusals (wrong material, a token for another
// key, an expired token) are InvalidArgument naming the field, and leave
// the key waiting for its material.
func TestImport(t *testing.T) {
	f := newFixture(t, Options{})
	var skew atomic.Int64
	f.srv.SetClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	ctx := context.Background()
	params := func(spec keys.Spec, usage keys.Usage, alg backends.WrappingAlgorithm) backends.WrappingKey {
		t.Helper()
		w, err := f.b.NewWrappingKey(ctx, backends.WrappingRequest{Label: "bind:" + string(spec), Algorithm: alg, Spec: spec, Usage: usage, KeyLabel: "imported/v2"})
		if err != nil {
			t.Fatal(err)
		}
		if w.Public.N.BitLen() != backends.WrappingKeyBits || len(w.Token) == 0 {
			t.Fatalf("wrapping key of %d bits, token of %d bytes", w.Public.N.BitLen(), len(w.Token))
		}
		if st := f.srv.State(w.ID); st != kmsserver.PendingImport {
			t.Fatalf("key made for the import is %s", st)
		}
		if l, err := f.b.WrappingKeyLabel(ctx, w.ID); err != nil || l != "bind:"+string(spec) {
			t.Fatalf("WrappingKeyLabel = %q, %v", l, err)
		}
		return w
	}
	imp := func(w backends.WrappingKey, spec keys.Spec, usage keys.Usage, alg backends.WrappingAlgorithm, material []byte) (string, error) {
		return f.b.ImportKey(ctx, backends.ImportRequest{WrappingKeyID: w.ID, Token: w.Token, Algorithm: alg,
			Material: wrapMaterial(t, w.Public, alg, material), Spec: spec, Usage: usage, Label: "imported/v2"})
	}

	// HMAC_256 under RSAES_OAEP_SHA_256: the MAC is the known key's.
	macKey := make([]byte, 32)
	rand.Read(macKey)
	w := params(keys.HMAC256, keys.GenerateVerifyMac, backends.RSAESOAEPSHA256)
	_, err := imp(w, keys.HMAC256, keys.GenerateVerifyMac, backends.RSAESOAEPSHA256, macKey[:16])
	wantKind(t, err, kgerr.InvalidArgument)
	if !strings.Contains(err.Error(), "encrypted_key_material") || f.srv.State(w.ID) != kmsserver.PendingImport {
		t.Fatalf("short HMAC key: %v; key %s", err, f.srv.State(w.ID))
	}
	other := params(keys.HMAC256, keys.GenerateVerifyMac, backends.RSAESOAEPSHA256)
	_, err = f.b.ImportKey(ctx, backends.ImportRequest{WrappingKeyID: w.ID, Token: other.Token, Algorithm: backends.RSAESOAEPSHA256,
		Material: wrapMaterial(t, w.Public, backends.RSAESOAEPSHA256, macKey), Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac})
	wantKind(t, err, kgerr.InvalidArgument)
	if !strings.Contains(err.Error(), "import_token") {
		t.Fatalf("a token for another key: %v", err)
	}
	rctx, info := withInfo()
	id, err := f.b.ImportKey(rctx, backends.ImportRequest{WrappingKeyID: w.ID, Token: w.Token, Algorithm: backends.RSAESOAEPSHA256,
		Material: wrapMaterial(t, w.Public, backends.RSAESOAEPSHA256, macKey), Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac})
	if err != nil || id != w.ID || info.RequestID == "" {
		t.Fatalf("ImportKey = %s, %v (request id %q)", id, err, info.RequestID)
	}
	// The request id reported is the one CloudTrail logs for the import
	// itself (not the DescribeKey before it), and likewise for the
	// parameters (not the CreateKey before them).
	pctx, pinfo := withInfo()
	if _, err := f.b.NewWrappingKey(pctx, backends.WrappingRequest{Label: "l", Algorithm: backends.RSAESOAEPSHA1,
		Spec: keys.SymmetricDefault, Usage: keys.EncryptDecrypt, KeyLabel: "x/v1"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.srv.Records() {
		if r.RequestID == info.RequestID && r.EventName != "ImportKeyMaterial" || r.RequestID == pinfo.RequestID && r.EventName != "GetParametersForImport" {
			t.Fatalf("request id %s is CloudTrail's %s", r.RequestID, r.EventName)
		}
	}
	k, err := f.b.Open(ctx, id, keys.HMAC256, keys.GenerateVerifyMac)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("CAVV material")
	got, err := k.MAC(ctx, keys.HMACSHA256, msg)
	want := hmac.New(sha256.New, macKey)
	want.Write(msg)
	if err != nil || !hmac.Equal(got, want.Sum(nil)) {
		t.Fatalf("MAC of the imported key is not the known key's: %v", err)
	}
	// Spent: the key has its material and is no wrapping key any more.
	if _, err := f.b.WrappingKeyLabel(ctx, w.ID); kgerr.KindOf(err) != kgerr.NotFound {
		t.Fatalf("WrappingKeyLabel of an imported key: %v", err)
	}

	// ECC_NIST_P256 as PKCS#8 under RSA_AES_KEY_WRAP_SHA_256: signs what
	// the known public key verifies.
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	w = params(keys.ECCNISTP256, keys.SignVerify, backends.RSAAESKeyWrapSHA256)
	id, err = imp(w, keys.ECCNISTP256, keys.SignVerify, backends.RSAAESKeyWrapSHA256, p8)
	if err != nil {
		t.Fatal(err)
	}
	k, err = f.b.Open(ctx, id, keys.ECCNISTP256, keys.SignVerify)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256(msg)
	sig, err := k.Sign(ctx, keys.ECDSASHA256, d[:])
	if err != nil || !ecdsa.VerifyASN1(&ecKey.PublicKey, d[:], sig) || !ecKey.PublicKey.Equal(k.Public()) {
		t.Fatalf("the imported EC key does not sign as the known key: %v", err)
	}

	// An RSA private key needs AES key wrap; KMS's own token expiry holds.
	if _, err := f.b.NewWrappingKey(ctx, backends.WrappingRequest{Label: "x", Algorithm: backends.RSAESOAEPSHA256,
		Spec: keys.RSA2048, Usage: keys.SignVerify, KeyLabel: "x/v1"}); kgerr.KindOf(err) != kgerr.InvalidArgument {
		t.Fatalf("RSA under RSAES_OAEP: %v", err)
	}
	w = params(keys.ECCNISTP384, keys.SignVerify, backends.RSAAESKeyWrapSHA1)
	skew.Store(int64(25 * time.Hour))
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p8, _ = x509.MarshalPKCS8PrivateKey(ec384)
	_, err = imp(w, keys.ECCNISTP384, keys.SignVerify, backends.RSAAESKeyWrapSHA1, p8)
	wantKind(t, err, kgerr.InvalidArgument)
	if !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired KMS token: %v", err)
	}
}
