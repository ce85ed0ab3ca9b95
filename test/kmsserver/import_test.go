package kmsserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/keygate/keygate/test/kmsserver"
)

// wrapFor wraps material as an operator would for alg under the DER
// public key GetParametersForImport returned.
func wrapFor(t *testing.T, der []byte, alg types.AlgorithmSpec, material []byte) []byte {
	t.Helper()
	p, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	out, err := kmsserver.WrapKeyMaterial(p.(*rsa.PublicKey), string(alg), material)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantCode fails unless err is the KMS error type code.
func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != code {
		t.Fatalf("%s: %v, want %s", what, err, code)
	}
}

// TestImportKeyMaterial walks KMS's import with the real SDK: a key of
// origin EXTERNAL is PendingImport and unusable; GetParametersForImport
// gives a wrapping key of the spec asked for and a token valid 24 hours;
// ImportKeyMaterial refuses a foreign, garbled or expired token and
// material of the wrong kind, and then enables the key with the material
// given; deleted material can only come back the same.
func TestImportKeyMaterial(t *testing.T) {
	srv := kmsserver.New(t)
	var skew atomic.Int64
	srv.SetClock(func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	c := kms.NewFromConfig(srv.AWSConfig())
	ctx := context.Background()

	mk := func(spec types.KeySpec, usage types.KeyUsageType) string {
		out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: usage, Origin: types.OriginTypeExternal})
		if err != nil {
			t.Fatal(err)
		}
		if out.KeyMetadata.KeyState != types.KeyStatePendingImport || out.KeyMetadata.Origin != types.OriginTypeExternal || out.KeyMetadata.Enabled {
			t.Fatalf("new EXTERNAL key: state %s origin %s enabled %t", out.KeyMetadata.KeyState, out.KeyMetadata.Origin, out.KeyMetadata.Enabled)
		}
		return aws.ToString(out.KeyMetadata.Arn)
	}
	params := func(id string, alg types.AlgorithmSpec, spec types.WrappingKeySpec) *kms.GetParametersForImportOutput {
		out, err := c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(id), WrappingAlgorithm: alg, WrappingKeySpec: spec})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	aesID := mk(types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(aesID), Plaintext: []byte("x")})
	wantCode(t, "Encrypt under a key pending import", err, "KMSInvalidStateException")

	native, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: native.KeyMetadata.KeyId,
		WrappingAlgorithm: types.AlgorithmSpecRsaesOaepSha256, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantCode(t, "GetParametersForImport of an AWS_KMS key", err, "UnsupportedOperationException")
	_, err = c.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(aesID),
		WrappingAlgorithm: types.AlgorithmSpecRsaesPkcs1V15, WrappingKeySpec: types.WrappingKeySpecRsa2048})
	wantCode(t, "RSAES_PKCS1_V1_5", err, "UnsupportedOperationException")

	p := params(aesID, types.AlgorithmSpecRsaesOaepSha256, types.WrappingKeySpecRsa2048)
	pub, err := x509.ParsePKIXPublicKey(p.PublicKey)
	if err != nil || pub.(*rsa.PublicKey).N.BitLen() != 2048 {
		t.Fatalf("wrapping public key: %v", err)
	}
	if d := time.Until(aws.ToTime(p.ParametersValidTo)); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("ParametersValidTo in %s, want 24h", d)
	}
	if aws.ToString(p.KeyId) != aesID {
		t.Fatalf("GetParametersForImport answered for %s", aws.ToString(p.KeyId))
	}
	material := make([]byte, 32)
	rand.Read(material)
	imp := func(id string, token, wrapped []byte) error {
		_, err := c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(id), ImportToken: token,
			EncryptedKeyMaterial: wrapped, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
		return err
	}
	good := wrapFor(t, p.PublicKey, types.AlgorithmSpecRsaesOaepSha256, material)
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(aesID), ImportToken: p.ImportToken, EncryptedKeyMaterial: good})
	wantCode(t, "ImportKeyMaterial with the default KEY_MATERIAL_EXPIRES and no ValidTo", err, "ValidationException")
	other := mk(types.KeySpecSymmetricDefault, types.KeyUsageTypeEncryptDecrypt)
	wantCode(t, "a token issued for another key", imp(other, p.ImportToken, good), "InvalidImportTokenException")
	altered := bytes.Clone(p.ImportToken)
	altered[0] ^= 1
	wantCode(t, "an altered token", imp(aesID, altered, good), "InvalidImportTokenException")
	wantCode(t, "garbled material", imp(aesID, p.ImportToken, bytes.Repeat([]byte{7}, 256)), "InvalidCiphertextException")
	wantCode(t, "16 bytes for SYMMETRIC_DEFAULT", imp(aesID, p.ImportToken, wrapFor(t, p.PublicKey, types.AlgorithmSpecRsaesOaepSha256, material[:16])), "IncorrectKeyMaterialException")
	if st := srv.State(aesID); st != kmsserver.PendingImport {
		t.Fatalf("after refused imports the key is %s", st)
	}
	if err := imp(aesID, p.ImportToken, good); err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(aesID), Plaintext: []byte("card data")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(aesID)})
	if err != nil || d.KeyMetadata.KeyState != types.KeyStateEnabled || d.KeyMetadata.Origin != types.OriginTypeExternal ||
		d.KeyMetadata.ExpirationModel != types.ExpirationModelTypeKeyMaterialDoesNotExpire {
		t.Fatalf("DescribeKey after import: %+v %v", d.KeyMetadata, err)
	}
	wantCode(t, "a second import into an enabled key", imp(aesID, p.ImportToken, good), "KMSInvalidStateException")

	// Deleted material comes back only as itself.
	if _, err := c.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: aws.String(aesID)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, "Decrypt after DeleteImportedKeyMaterial", err, "KMSInvalidStateException")
	p = params(aesID, types.AlgorithmSpecRsaAesKeyWrapSha1, types.WrappingKeySpecRsa4096)
	wantCode(t, "other material on reimport", imp(aesID, p.ImportToken, wrapFor(t, p.PublicKey, types.AlgorithmSpecRsaAesKeyWrapSha1, make([]byte, 32))),
		"IncorrectKeyMaterialException")
	if err := imp(aesID, p.ImportToken, wrapFor(t, p.PublicKey, types.AlgorithmSpecRsaAesKeyWrapSha1, material)); err != nil {
		t.Fatal(err)
	}
	if dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob}); err != nil || string(dec.Plaintext) != "card data" {
		t.Fatalf("Decrypt after reimport: %v", err)
	}

	// An EC private key as PKCS#8 under RSA_AES_KEY_WRAP_SHA_256: KMS
	// signs with it, and the known public key verifies.
	ecID := mk(types.KeySpecEccNistP256, types.KeyUsageTypeSignVerify)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p8, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	p = params(ecID, types.AlgorithmSpecRsaAesKeyWrapSha256, types.WrappingKeySpecRsa3072)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	wrongP8, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	wantCode(t, "an RSA key into ECC_NIST_P256", imp(ecID, p.ImportToken, wrapFor(t, p.PublicKey, types.AlgorithmSpecRsaAesKeyWrapSha256, wrongP8)),
		"IncorrectKeyMaterialException")
	if err := imp(ecID, p.ImportToken, wrapFor(t, p.PublicKey, types.AlgorithmSpecRsaAesKeyWrapSha256, p8)); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("acsSignedContent"))
	sig, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(ecID), Message: digest[:], MessageType: types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	if err != nil || !ecdsa.VerifyASN1(&ecKey.PublicKey, digest[:], sig.Signature) {
		t.Fatalf("signature by the imported EC key does not verify with its public key: %v", err)
	}

	// Tokens expire after 24 hours; material with a ValidTo expires then.
	hmacID := mk(types.KeySpecHmac256, types.KeyUsageTypeGenerateVerifyMac)
	p = params(hmacID, types.AlgorithmSpecRsaesOaepSha1, types.WrappingKeySpecRsa2048)
	skew.Store(int64(25 * time.Hour))
	wantCode(t, "an expired token", imp(hmacID, p.ImportToken, wrapFor(t, p.PublicKey, types.AlgorithmSpecRsaesOaepSha1, material)), "ExpiredImportTokenException")
	p = params(hmacID, types.AlgorithmSpecRsaesOaepSha1, types.WrappingKeySpecRsa2048)
	_, err = c.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(hmacID), ImportToken: p.ImportToken,
		EncryptedKeyMaterial: wrapFor(t, p.PublicKey, types.AlgorithmSpecRsaesOaepSha1, material),
		ExpirationModel:      types.ExpirationModelTypeKeyMaterialExpires, ValidTo: aws.Time(time.Now().Add(26 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if srv.State(hmacID) != kmsserver.Enabled {
		t.Fatalf("HMAC key after import: %s", srv.State(hmacID))
	}
	skew.Store(int64(27 * time.Hour))
	if st := srv.State(hmacID); st != kmsserver.PendingImport {
		t.Fatalf("HMAC key after its material's ValidTo: %s, want PendingImport", st)
	}

	// CloudTrail: the parameters and the import are logged, with what
	// KMS logs and never the token or the material.
	var names []string
	for _, r := range srv.Records() {
		names = append(names, r.EventName)
		b, _ := json.Marshal(r)
		for _, secret := range [][]byte{p.ImportToken, material} {
			if bytes.Contains(b, []byte(base64.StdEncoding.EncodeToString(secret))) {
				t.Fatalf("CloudTrail record %s holds a secret", r.EventName)
			}
		}
		switch r.EventName {
		case "GetParametersForImport":
			if !r.ReadOnly || r.RequestParameters["wrappingKeySpec"] == nil || r.RequestParameters["wrappingAlgorithm"] == nil {
				t.Fatalf("GetParametersForImport record: %+v", r)
			}
		case "ImportKeyMaterial":
			if r.ReadOnly || r.RequestParameters["expirationModel"] == nil || len(r.Resources) != 1 {
				t.Fatalf("ImportKeyMaterial record: %+v", r)
			}
			if r.ErrorCode == "" && r.ResponseElements["keyId"] != r.Resources[0].ARN {
				t.Fatalf("ImportKeyMaterial record names %v, not %s", r.ResponseElements["keyId"], r.Resources[0].ARN)
			}
		}
	}
	if !strings.Contains(strings.Join(names, " "), "DeleteImportedKeyMaterial") {
		t.Fatalf("no DeleteImportedKeyMaterial record in %v", names)
	}
}
