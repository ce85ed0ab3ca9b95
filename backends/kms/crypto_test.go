package kms

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

func TestSignECDSA(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.ECCNISTP256, keys.SignVerify)
	ctx, info := withInfo()
	digest := sha256.Sum256([]byte("acsSignedContent"))
	sig, err := k.Sign(ctx, keys.ECDSASHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if info.RequestID == "" {
		t.Error("Sign reported no request id")
	}
	if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("KMS ECDSA signature does not verify with the cached public key")
	}
	if ok, err := k.Verify(context.Background(), keys.ECDSASHA256, digest[:], sig); err != nil || !ok {
		t.Fatalf("local Verify = %v, %v; want true", ok, err)
	}
	other := sha256.Sum256([]byte("other"))
	if ok, err := k.Verify(context.Background(), keys.ECDSASHA256, other[:], sig); err != nil || ok {
		t.Fatalf("local Verify of another digest = %v, %v; want false", ok, err)
	}
	_, err = k.Sign(context.Background(), keys.ECDSASHA384, make([]byte, 48))
	wantKind(t, err, kgerr.InvalidArgument)
	_, err = k.Sign(context.Background(), keys.ECDSASHA256, digest[:31])
	wantKind(t, err, kgerr.InvalidArgument)
}

func TestVerifyRemote(t *testing.T) {
	f := newFixture(t, Options{VerifyRemote: true})
	k := f.create(t, keys.RSA2048, keys.SignVerify)
	for _, alg := range keys.RSA2048.SigningAlgorithms() {
		h := alg.Hash().New()
		h.Write([]byte("payload"))
		digest := h.Sum(nil)
		sig, err := k.Sign(context.Background(), alg, digest)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if !backends.VerifyLocal(k.Public(), alg, digest, sig) {
			t.Errorf("%s: signature does not verify locally", alg)
		}
		before := len(f.srv.Records())
		ctx, info := withInfo()
		if ok, err := k.Verify(ctx, alg, digest, sig); err != nil || !ok {
			t.Fatalf("%s: remote Verify = %v, %v", alg, ok, err)
		}
		recs := f.srv.Records()
		if len(recs) != before+1 || recs[len(recs)-1].EventName != "Verify" || recs[len(recs)-1].RequestID != info.RequestID {
			t.Fatalf("%s: remote Verify did not reach KMS as one Verify call", alg)
		}
		sig[len(sig)-1] ^= 1
		if ok, err := k.Verify(context.Background(), alg, digest, sig); err != nil || ok {
			t.Fatalf("%s: remote Verify of a altered signature = %v, %v", alg, ok, err)
		}
	}
	// PSS uses a salt as long as the digest, as KMS does.
	digest := sha512.Sum512([]byte("x"))
	sig, err := k.Sign(context.Background(), keys.RSASSAPSSSHA512, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	err = rsa.VerifyPSS(k.Public().(*rsa.PublicKey), keys.RSASSAPSSSHA512.Hash(), digest[:], sig, &rsa.PSSOptions{SaltLength: 64})
	if err != nil {
		t.Fatalf("PSS salt is not 64 bytes: %v", err)
	}
}

func TestEncryptSymmetric(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.SymmetricDefault, keys.EncryptDecrypt)
	other := f.create(t, keys.SymmetricDefault, keys.EncryptDecrypt)
	ctx := context.Background()
	ec := map[string]string{"acsTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
	plain := []byte("card data at rest")
	blob, err := k.Encrypt(ctx, keys.SymmetricDefaultAlg, plain, ec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, ec)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	for name, try := range map[string]func() ([]byte, error){
		"wrong context": func() ([]byte, error) {
			return k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, map[string]string{"acsTransID": "x"})
		},
		"no context": func() ([]byte, error) { return k.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, nil) },
		"altered": func() ([]byte, error) {
			bad := bytes.Clone(blob)
			bad[len(bad)-1] ^= 1
			return k.Decrypt(ctx, keys.SymmetricDefaultAlg, bad, ec)
		},
		"other key": func() ([]byte, error) { return other.Decrypt(ctx, keys.SymmetricDefaultAlg, blob, ec) },
		"garbage":   func() ([]byte, error) { return k.Decrypt(ctx, keys.SymmetricDefaultAlg, []byte("garbage"), ec) },
	} {
		_, err := try()
		wantKind(t, err, kgerr.InvalidArgument)
		if kgerr.Message(err) != backends.DecryptFailed {
			t.Errorf("%s: message %q, want the one DecryptFailed message", name, kgerr.Message(err))
		}
	}
	_, err = k.Encrypt(ctx, keys.SymmetricDefaultAlg, make([]byte, keys.MaxMessage+1), nil)
	wantKind(t, err, kgerr.InvalidArgument)
	_, err = k.Encrypt(ctx, keys.RSAESOAEPSHA256, plain, nil)
	wantKind(t, err, kgerr.InvalidArgument)
}

func TestGenerateDataKey(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.SymmetricDefault, keys.EncryptDecrypt)
	ec := map[string]string{"purpose": "envelope"}
	plain, blob, err := k.GenerateDataKey(context.Background(), 32, ec)
	if err != nil || len(plain) != 32 {
		t.Fatalf("GenerateDataKey = %d bytes, %v", len(plain), err)
	}
	got, err := k.Decrypt(context.Background(), keys.SymmetricDefaultAlg, blob, ec)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("the data key blob does not decrypt to the data key: %v", err)
	}
	_, _, err = k.GenerateDataKey(context.Background(), 0, nil)
	wantKind(t, err, kgerr.InvalidArgument)
}

func TestEncryptRSAOAEP(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.RSA2048, keys.EncryptDecrypt)
	ctx := context.Background()
	// A caller can encrypt with the public key alone (the DS's sdkEncData).
	cek := []byte("0123456789abcdef0123456789abcdef")
	blob, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public().(*rsa.PublicKey), cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.Decrypt(ctx, keys.RSAESOAEPSHA256, blob, nil)
	if err != nil || !bytes.Equal(got, cek) {
		t.Fatalf("Decrypt = %x, %v", got, err)
	}
	blob, err = k.Encrypt(ctx, keys.RSAESOAEPSHA256, cek, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob[0] ^= 1
	_, err = k.Decrypt(ctx, keys.RSAESOAEPSHA256, blob, nil)
	wantKind(t, err, kgerr.InvalidArgument)
	_, err = k.Encrypt(ctx, keys.RSAESOAEPSHA256, cek, map[string]string{"a": "b"})
	wantKind(t, err, kgerr.InvalidArgument)
	_, err = k.Encrypt(ctx, keys.RSAESOAEPSHA256, make([]byte, 191), nil)
	wantKind(t, err, kgerr.InvalidArgument)
}

func TestMAC(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.HMAC256, keys.GenerateVerifyMac)
	ctx := context.Background()
	msg := []byte("CAVV material")
	mac, err := k.MAC(ctx, keys.HMACSHA256, msg)
	if err != nil || len(mac) != 32 {
		t.Fatalf("MAC = %x, %v", mac, err)
	}
	again, _ := k.MAC(ctx, keys.HMACSHA256, msg)
	if !bytes.Equal(mac, again) {
		t.Fatal("HMAC of the same message differs")
	}
	if ok, err := k.VerifyMAC(ctx, keys.HMACSHA256, msg, mac); err != nil || !ok {
		t.Fatalf("VerifyMAC = %v, %v", ok, err)
	}
	mac[0] ^= 1
	if ok, err := k.VerifyMAC(ctx, keys.HMACSHA256, msg, mac); err != nil || ok {
		t.Fatalf("VerifyMAC of a wrong MAC = %v, %v", ok, err)
	}
	_, err = k.MAC(ctx, keys.HMACSHA512, msg)
	wantKind(t, err, kgerr.InvalidArgument)
	_, err = k.Sign(ctx, keys.ECDSASHA256, make([]byte, 32))
	wantKind(t, err, kgerr.FailedPrecondition)
}

func TestDeriveSharedSecret(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.ECCNISTP256, keys.KeyAgreement)
	sdk, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	z, err := k.DeriveSharedSecret(context.Background(), sdk.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	kmsPub, err := k.Public().(*ecdsa.PublicKey).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := sdk.ECDH(kmsPub)
	if !bytes.Equal(z, want) || len(z) != 32 {
		t.Fatalf("Z = %x, want %x", z, want)
	}
	p384, _ := ecdh.P384().GenerateKey(rand.Reader)
	_, err = k.DeriveSharedSecret(context.Background(), p384.PublicKey())
	wantKind(t, err, kgerr.InvalidArgument)
}
