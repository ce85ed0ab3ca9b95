// Package e2e runs keygated end to end: a real gRPC server over mutual TLS
// on a SoftHSM2 token, called the way a 3DS service calls it.
package e2e

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/backends"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/threeds"
)

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("got %v, want %v", err, code)
	}
}

func TestCryptoService(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CreateKey("acs-signing-rsa", "RSA_2048", "SIGN_VERIFY")
	env.CreateKey("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	env.CreateKey("av-mac", "HMAC_256", "GENERATE_VERIFY_MAC")
	env.CreateKey("ds-enc", "RSA_2048", "ENCRYPT_DECRYPT")
	env.CreateKey("ds-ecdh", "ECC_NIST_P256", "KEY_AGREEMENT")
	ctx := context.Background()
	cs := env.Crypto("acs")

	pubOf := func(t *testing.T, name string) any {
		t.Helper()
		resp, err := cs.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: name})
		if err != nil {
			t.Fatal(err)
		}
		pub, err := x509.ParsePKIXPublicKey(resp.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pub
	}

	t.Run("sign ECDSA RAW and DIGEST, verify with crypto/ecdsa", func(t *testing.T) {
		pub := pubOf(t, "acs-signing").(*ecdsa.PublicKey)
		msg := []byte(`{"acsURL":"https://acs.example/challenge"}`)
		d := sha256.Sum256(msg)
		for _, req := range []*pb.SignRequest{
			{KeyId: "acs-signing", Message: msg},
			{KeyId: "acs-signing", Message: d[:], MessageType: "DIGEST", SigningAlgorithm: "ECDSA_SHA_256"},
		} {
			resp, err := cs.Sign(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.KeyVersion != 1 || resp.SigningAlgorithm != "ECDSA_SHA_256" {
				t.Errorf("response names version %d, %s", resp.KeyVersion, resp.SigningAlgorithm)
			}
			if !ecdsa.VerifyASN1(pub, d[:], resp.Signature) {
				t.Fatal("signature does not verify with crypto/ecdsa")
			}
			v, err := cs.Verify(ctx, &pb.VerifyRequest{KeyId: "acs-signing", Message: msg, Signature: resp.Signature})
			if err != nil || !v.SignatureValid {
				t.Fatalf("Verify: %v %v", v, err)
			}
			bad := append([]byte{}, msg...)
			bad[0] ^= 1
			v, err = cs.Verify(ctx, &pb.VerifyRequest{KeyId: "acs-signing", Message: bad, Signature: resp.Signature})
			if err != nil || v.SignatureValid {
				t.Fatalf("Verify of an altered message: %v %v", v, err)
			}
		}
	})

	t.Run("sign RSA PSS and PKCS1 v1.5", func(t *testing.T) {
		pub := pubOf(t, "acs-signing-rsa").(*rsa.PublicKey)
		msg := []byte("acs signed content")
		d := sha256.Sum256(msg)
		pss, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing-rsa", Message: msg, SigningAlgorithm: "RSASSA_PSS_SHA_256"})
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPSS(pub, 5, d[:], pss.Signature, &rsa.PSSOptions{SaltLength: 32}); err != nil {
			t.Fatalf("PSS with a 32-byte salt: %v", err)
		}
		v1, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing-rsa", Message: msg, SigningAlgorithm: "RSASSA_PKCS1_V1_5_SHA_256"})
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(pub, 5, d[:], v1.Signature); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("encrypt and decrypt with an encryption context", func(t *testing.T) {
		ec := map[string]string{"acsTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e", "purpose": "cardholder-data"}
		enc, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: []byte("4111111111111111"), EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		if string(dec.Plaintext) != "4111111111111111" || dec.KeyId != "data-key" || dec.KeyVersion != 1 {
			t.Fatalf("Decrypt = %q from %s v%d", dec.Plaintext, dec.KeyId, dec.KeyVersion)
		}
		// Every authentication failure gets the same message, which says
		// nothing about which part was wrong.
		wrong := map[string]string{"acsTransID": "other", "purpose": "cardholder-data"}
		tampered := append([]byte{}, enc.CiphertextBlob...)
		tampered[len(tampered)-1] ^= 1
		for name, req := range map[string]*pb.DecryptRequest{
			"wrong context":   {CiphertextBlob: enc.CiphertextBlob, EncryptionContext: wrong},
			"missing context": {CiphertextBlob: enc.CiphertextBlob},
			"tampered blob":   {CiphertextBlob: tampered, EncryptionContext: ec},
		} {
			_, err := cs.Decrypt(ctx, req)
			wantCode(t, err, codes.InvalidArgument)
			if msg := status.Convert(err).Message(); msg != backends.DecryptFailed {
				t.Errorf("%s: message %q, want the one fixed message", name, msg)
			}
		}
		_, err = cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: "ds-enc"})
		wantCode(t, err, codes.InvalidArgument)
	})

	t.Run("RSA-OAEP: encrypt in Go, decrypt in the HSM", func(t *testing.T) {
		enc, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "ds-enc", Plaintext: []byte("cek"), EncryptionAlgorithm: "RSAES_OAEP_SHA_256"})
		if err != nil {
			t.Fatal(err)
		}
		dec, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: enc.CiphertextBlob})
		if err != nil || string(dec.Plaintext) != "cek" {
			t.Fatalf("Decrypt: %q %v", dec.GetPlaintext(), err)
		}
		_, err = cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "ds-enc", Plaintext: []byte("x"), EncryptionContext: map[string]string{"a": "b"}})
		wantCode(t, err, codes.InvalidArgument)
	})

	t.Run("data keys", func(t *testing.T) {
		ec := map[string]string{"table": "cards"}
		dk, err := cs.GenerateDataKey(ctx, &pb.GenerateDataKeyRequest{KeyId: "data-key", EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		if len(dk.Plaintext) != 32 {
			t.Fatalf("AES_256 data key is %d bytes", len(dk.Plaintext))
		}
		dec, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
			t.Fatalf("the data key's ciphertext does not decrypt to it: %v", err)
		}
		_, err = cs.GenerateDataKey(ctx, &pb.GenerateDataKeyRequest{KeyId: "data-key", KeySpec: "AES_512"})
		wantCode(t, err, codes.InvalidArgument)
	})

	t.Run("HMAC", func(t *testing.T) {
		m, err := cs.GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "av-mac", Message: []byte("cavv material")})
		if err != nil || len(m.Mac) != 32 {
			t.Fatalf("GenerateMac: %v", err)
		}
		v, err := cs.VerifyMac(ctx, &pb.VerifyMacRequest{KeyId: "av-mac", Message: []byte("cavv material"), Mac: m.Mac})
		if err != nil || !v.MacValid {
			t.Fatalf("VerifyMac: %v %v", v, err)
		}
		v, err = cs.VerifyMac(ctx, &pb.VerifyMacRequest{KeyId: "av-mac", Message: []byte("cavv materiaL"), Mac: m.Mac})
		if err != nil || v.MacValid {
			t.Fatalf("VerifyMac of another message: %v %v", v, err)
		}
	})

	t.Run("ECDH with the Concat KDF and HKDF agrees with crypto/ecdh", func(t *testing.T) {
		dsPub := pubOf(t, "ds-ecdh").(*ecdsa.PublicKey)
		sdk, _ := ecdh.P256().GenerateKey(rand.Reader)
		dsECDH, _ := dsPub.ECDH()
		z, _ := sdk.ECDH(dsECDH)
		spki, _ := x509.MarshalPKIXPublicKey(sdk.PublicKey())
		for _, pubBytes := range [][]byte{sdk.PublicKey().Bytes(), spki} {
			resp, err := cs.DeriveSharedSecret(ctx, &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", PublicKey: pubBytes, PartyVInfo: []byte("A000000802")})
			if err != nil {
				t.Fatal(err)
			}
			if want := threeds.ConcatKDF(z, nil, nil, []byte("A000000802"), 256); !bytes.Equal(resp.SharedSecret, want) {
				t.Fatal("Concat KDF output differs from the SDK side's")
			}
		}
		resp, err := cs.DeriveSharedSecret(ctx, &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", PublicKey: spki, Kdf: "HKDF_SHA256", Info: []byte("ctx"), Salt: []byte("salt")})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := hkdf.Key(sha256.New, z, []byte("salt"), "ctx", 32)
		if !bytes.Equal(resp.SharedSecret, want) {
			t.Fatal("HKDF output differs")
		}
		_, err = cs.DeriveSharedSecret(ctx, &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", PublicKey: spki, Kdf: "RAW"})
		wantCode(t, err, codes.FailedPrecondition)
	})

	t.Run("bad peer keys are refused before any ECDH", func(t *testing.T) {
		p384, _ := ecdh.P384().GenerateKey(rand.Reader)
		offCurve := append([]byte{4}, bytes.Repeat([]byte{1}, 64)...)
		infinity := []byte{0}
		ecP := elliptic.P256().Params()
		// x = 0 is not on P-256 for any y here: an invalid-curve point.
		invalid := append([]byte{4}, make([]byte, 32)...)
		invalid = append(invalid, ecP.Gy.FillBytes(make([]byte, 32))...)
		for name, pk := range map[string][]byte{"P-384 point": p384.PublicKey().Bytes(), "off the curve": offCurve,
			"infinity": infinity, "invalid curve": invalid, "garbage": []byte("not a key"), "empty": nil} {
			_, err := cs.DeriveSharedSecret(ctx, &pb.DeriveSharedSecretRequest{KeyId: "ds-ecdh", PublicKey: pk})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s: %v, want InvalidArgument", name, err)
			}
		}
	})
}

func TestRawSharedSecret(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	env.CreateKeyApproved(&pb.CreateKeyRequest{KeyId: "raw-ecdh", KeySpec: "ECC_NIST_P256",
		KeyUsage: "KEY_AGREEMENT", AllowRawSharedSecret: true, Policy: harness.OpenPolicy()})
	cs := env.Crypto("ds")
	pub, err := cs.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "raw-ecdh"})
	if err != nil {
		t.Fatal(err)
	}
	hsm, _ := must(x509.ParsePKIXPublicKey(pub.PublicKey)).(*ecdsa.PublicKey).ECDH()
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	z, _ := peer.ECDH(hsm)
	resp, err := cs.DeriveSharedSecret(ctx, &pb.DeriveSharedSecretRequest{KeyId: "raw-ecdh", PublicKey: peer.PublicKey().Bytes(), Kdf: "RAW"})
	if err != nil || !bytes.Equal(resp.SharedSecret, z) {
		t.Fatalf("RAW secret %x, want %x (%v)", resp.GetSharedSecret(), z, err)
	}
}
