package e2e

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/devca"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// addVersion gives a key a new active version backed by a new backend key
// and retires the old one, through the keyring, as the lifecycle's
// rotation does.
func addVersion(t *testing.T, env *harness.Env, name string, spec keys.Spec, usage keys.Usage) {
	t.Helper()
	ctx := context.Background()
	kr := env.Server.Keyring()
	b, err := kr.Backend("hsm")
	if err != nil {
		t.Fatal(err)
	}
	id, err := b.CreateKey(ctx, backends.CreateRequest{Spec: spec, Usage: usage, Label: name + "/v2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Update(ctx, name, func(k *keys.Key) error {
		k.Versions[0].State = keys.VersionRetired
		k.Versions = append(k.Versions, keys.Version{Number: 2, State: keys.VersionActive, BackendKeyID: id, CreatedAt: time.Now()})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// sdkEncEC encrypts device data as an SDK does for an EC DS key that
// publishes a kid: ECDH-ES with the 3DS Concat KDF, A128GCM, kid in the header.
func sdkEncEC(t *testing.T, dsPub *ecdh.PublicKey, dsID, kid string, dd []byte) string {
	t.Helper()
	s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader))}
	p := dsPub.Bytes()
	s.agree(t, []byte(fmt.Sprintf(`{"x":"%s","y":"%s"}`, b64.EncodeToString(p[1:33]), b64.EncodeToString(p[33:]))), dsID)
	epk := s.priv.PublicKey().Bytes()
	hdr := b64.EncodeToString([]byte(fmt.Sprintf(`{"alg":"ECDH-ES","enc":"A128GCM","kid":%q,"epk":{"kty":"EC","crv":"P-256","x":"%s","y":"%s"}}`,
		kid, b64.EncodeToString(epk[1:33]), b64.EncodeToString(epk[33:]))))
	iv := make([]byte, 12)
	rand.Read(iv)
	gcm := sdkGCM(s.cek[:16])
	sealed := gcm.Seal(nil, iv, dd, []byte(hdr))
	n := len(sealed) - 16
	return hdr + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(sealed[:n]) + "." + b64.EncodeToString(sealed[n:])
}

// Issue 15.3: a DS with two encryption key versions decrypts sdkEncData
// for each by kid; a kid it may not use is a NotFound for that kid.
func TestDSKeyRotationByKid(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKeyWithPolicy("ds-ecdh", "ECC_NIST_P256", "KEY_AGREEMENT", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "DS", Principals: []string{harness.ARN("ds")}, Actions: []string{"keygate:DecryptSdkEncData", "kms:DeriveSharedSecret", "kms:GetPublicKey"}}))
	env.CreateKey("ds-other", "ECC_NIST_P256", "KEY_AGREEMENT")
	addVersion(t, env, "ds-ecdh", keys.ECCNISTP256, keys.KeyAgreement)
	ctx := context.Background()
	admin := pb.NewThreeDSServiceClient(env.Conn("admin"))
	for v, kid := range map[uint32]string{1: "ds-2025", 2: "ds-2026"} {
		if _, err := admin.SetDsKeyIds(ctx, &pb.SetDsKeyIdsRequest{KeyId: "ds-ecdh", Version: v, Kids: []string{kid}}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := admin.SetDsKeyIds(ctx, &pb.SetDsKeyIdsRequest{KeyId: "ds-other", Kids: []string{"ds-2026"}})
	wantCode(t, err, codes.AlreadyExists) // a kid names one key version

	ds := pb.NewThreeDSServiceClient(env.Conn("ds"))
	dd := []byte(`{"DV":"1.0","DD":{"C001":"Android"}}`)
	jwes := map[uint32]string{}
	for v, kid := range map[uint32]string{1: "ds-2025", 2: "ds-2026"} {
		pub, err := env.Crypto("ds").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "ds-ecdh", KeyVersion: v})
		if err != nil {
			t.Fatal(err)
		}
		dsPub := must(must(x509.ParsePKIXPublicKey(pub.PublicKey)).(*ecdsa.PublicKey).ECDH())
		jwes[v] = sdkEncEC(t, dsPub, "A000000802", kid, dd)
		for _, keyIDs := range [][]string{nil, {"ds-ecdh"}, {"ds-other", "ds-ecdh"}} {
			got, err := ds.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{Jwe: jwes[v], DsId: "A000000802", KeyIds: keyIDs})
			if err != nil || !bytes.Equal(got.DeviceData, dd) || got.KeyId != "ds-ecdh" || got.KeyVersion != v {
				t.Fatalf("kid %s, key_ids %v: %v %v", kid, keyIDs, got, err)
			}
		}
	}
	// The kid names a key outside the set, no key at all, or one the
	// caller may not use: the same NotFound for that kid.
	for name, call := range map[string]func() error{
		"outside key_ids": func() error {
			_, err := ds.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{Jwe: jwes[2], DsId: "A000000802", KeyIds: []string{"ds-other"}})
			return err
		},
		"unknown kid": func() error {
			parts := strings.SplitN(jwes[2], ".", 2)
			hdr := strings.Replace(string(must(b64.DecodeString(parts[0]))), "ds-2026", "ds-2099", 1)
			_, err := ds.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{Jwe: b64.EncodeToString([]byte(hdr)) + "." + parts[1], DsId: "A000000802"})
			return err
		},
		"caller may not use it": func() error {
			_, err := pb.NewThreeDSServiceClient(env.Conn("acs")).DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{Jwe: jwes[2], DsId: "A000000802"})
			return err
		},
	} {
		err := call()
		wantCode(t, err, codes.NotFound)
		if msg := status.Convert(err).Message(); !strings.HasPrefix(msg, "no DS key has kid") || strings.Contains(msg, "ds-ecdh") || strings.Contains(msg, "ds-other") {
			t.Fatalf("%s: %q", name, msg)
		}
	}
	// The old form still works: key_id names the key, its primary decrypts.
	if got, err := ds.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{KeyId: "ds-ecdh", Jwe: jwes[2], DsId: "A000000802"}); err != nil || got.KeyVersion != 2 {
		t.Fatalf("key_id: %v %v", got, err)
	}
}

// Issue 15.4: an ACS key with two DS chains signs with the chain the
// request names, and with its default chain when it names none.
func TestAcsChainsByDS(t *testing.T) {
	env := acsEnv(t, harness.Options{})
	ctx := context.Background()
	pub := must(x509.ParsePKIXPublicKey(must(env.Crypto("acs").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "acs-signing"})).PublicKey))
	cas := map[string]*devca.CA{"visa": must(devca.New("Visa DS CA")), "mastercard": must(devca.New("Mastercard DS CA"))}
	admin := pb.NewThreeDSServiceClient(env.Conn("admin"))
	for ds, ca := range cas {
		leaf := must(ca.Sign("ACS for "+ds, pub))
		if _, err := admin.ImportAcsChain(ctx, &pb.ImportAcsChainRequest{KeyId: "acs-signing", Ds: ds,
			ChainPem: string(devca.CertPEM(leaf)) + string(devca.CertPEM(ca.Cert))}); err != nil {
			t.Fatal(err)
		}
	}
	// A chain for another key's public key is refused.
	otherKey := must(ecdsa.GenerateKey(pub.(*ecdsa.PublicKey).Curve, rand.Reader))
	_, err := admin.ImportAcsChain(ctx, &pb.ImportAcsChainRequest{KeyId: "acs-signing", Ds: "amex",
		ChainPem: string(devca.CertPEM(must(cas["visa"].Sign("x", &otherKey.PublicKey))))})
	wantCode(t, err, codes.InvalidArgument)

	acs := pb.NewThreeDSServiceClient(env.Conn("acs"))
	for ds, root := range map[string]*x509.Certificate{"mastercard": cas["mastercard"].Cert, "visa": cas["visa"].Cert, "": env.CA.Cert} {
		s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader))}
		resp, err := acs.CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: "t-" + ds,
			AcsUrl: "https://acs.example", SdkEphemPubKey: s.jwk(), SdkReferenceNumber: "ref", Ds: ds})
		if err != nil {
			t.Fatalf("ds %q: %v", ds, err)
		}
		jws := must(jose.ParseSigned(resp.AcsSignedContent, []jose.SignatureAlgorithm{jose.ES256}))
		roots := x509.NewCertPool()
		roots.AddCert(root)
		if _, err := jws.Signatures[0].Protected.Certificates(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Fatalf("ds %q: x5c does not lead to its CA: %v", ds, err)
		}
	}
	_, err = acs.CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: "t", AcsUrl: "https://acs.example",
		SdkEphemPubKey: (&sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader))}).jwk(), SdkReferenceNumber: "ref", Ds: "amex"})
	wantCode(t, err, codes.NotFound)
}
