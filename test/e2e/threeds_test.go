package e2e

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

var b64 = base64.RawURLEncoding

// sdk is the 3DS SDK's side of a challenge, written here from the EMV
// spec independently of package threeds.
type sdk struct {
	priv *ecdh.PrivateKey
	cek  []byte
	enc  string
	kid  string
}

func (s *sdk) jwk() []byte { return harness.SDKJWK(s.priv) }

// agree derives the CEK from the ACS ephemeral key: ECDH, then the 3DS
// Concat KDF with PartyVInfo = the SDK Reference Number.
func (s *sdk) agree(t *testing.T, acsJWK []byte, sdkRef string) {
	cek, err := harness.SDKAgree(s.priv, acsJWK, sdkRef)
	if err != nil {
		t.Fatal(err)
	}
	s.cek = cek
}

func (s *sdk) header() string {
	return b64.EncodeToString([]byte(fmt.Sprintf(`{"alg":"dir","enc":"%s","kid":"%s"}`, s.enc, s.kid)))
}

// creq encrypts a CReq with counter n.
func (s *sdk) creq(n int) (string, []byte) {
	msg := []byte(fmt.Sprintf(`{"acsTransID":"%s","messageType":"CReq","messageVersion":"2.2.0","sdkCounterStoA":"%03d","sdkTransID":"b2385523-a66c-4907-ac3c-91848e8c0067"}`, s.kid, n))
	hdr := s.header()
	if s.enc == "A128GCM" {
		iv := make([]byte, 12)
		iv[11] = byte(n)
		gcm := sdkGCM(s.cek[:16])
		sealed := gcm.Seal(nil, iv, msg, []byte(hdr))
		return hdr + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(sealed[:len(sealed)-16]) + "." + b64.EncodeToString(sealed[len(sealed)-16:]), msg
	}
	iv := make([]byte, 16)
	rand.Read(iv)
	pad := 16 - len(msg)%16
	pt := append(append([]byte{}, msg...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(must(aes.NewCipher(s.cek[16:])), iv).CryptBlocks(ct, pt)
	return hdr + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(ct) + "." + b64.EncodeToString(cbcTag(s.cek[:16], hdr, iv, ct)), msg
}

// cres decrypts a CRes as the SDK does.
func (s *sdk) cres(t *testing.T, jwe string, n int) []byte {
	t.Helper()
	p := strings.Split(jwe, ".")
	if len(p) != 5 || p[1] != "" || p[0] != s.header() {
		t.Fatalf("CRes JWE has the wrong shape or header: %s", jwe)
	}
	iv, _ := b64.DecodeString(p[2])
	ct, _ := b64.DecodeString(p[3])
	tag, _ := b64.DecodeString(p[4])
	if s.enc == "A128GCM" {
		want := append(bytes.Repeat([]byte{0xFF}, 11), byte(n))
		if !bytes.Equal(iv, want) {
			t.Fatalf("CRes IV %x, want FF×11 ‖ %02x", iv, n)
		}
		gcm := sdkGCM(s.cek[16:])
		pt, err := gcm.Open(nil, iv, append(ct, tag...), []byte(p[0]))
		if err != nil {
			t.Fatal("CRes does not decrypt with CEK[16:32]")
		}
		return pt
	}
	if !hmac.Equal(tag, cbcTag(s.cek[:16], p[0], iv, ct)) {
		t.Fatal("CRes tag does not verify")
	}
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(must(aes.NewCipher(s.cek[16:])), iv).CryptBlocks(pt, ct)
	return pt[:len(pt)-int(pt[len(pt)-1])]
}

func cbcTag(macKey []byte, aad string, iv, ct []byte) []byte {
	m := hmac.New(sha256.New, macKey)
	m.Write([]byte(aad))
	m.Write(iv)
	m.Write(ct)
	binary.Write(m, binary.BigEndian, uint64(len(aad)*8))
	return m.Sum(nil)[:16]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestThreeDSChallengeRoundTrip(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CreateKey("acs-signing-rsa", "RSA_2048", "SIGN_VERIFY")
	env.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	ctx := context.Background()
	for _, name := range []string{"acs-signing", "acs-signing-rsa"} {
		env.CertifyKey(name, "ACS "+name)
	}
	// A second replica on the same store and token serves the same sessions.
	store := env.Config.Store
	replica := harness.Start(t, harness.Options{Token: &env.Token, Store: &store})

	for _, tc := range []struct{ key, enc, alg string }{
		{"acs-signing", "A128CBC-HS256", "ES256"}, {"acs-signing-rsa", "A128GCM", "PS256"},
	} {
		t.Run(tc.enc+"/"+tc.alg, func(t *testing.T) {
			s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader)), enc: tc.enc, kid: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
			tds := pb.NewThreeDSServiceClient(env.Conn("acs"))
			resp, err := tds.CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: tc.key, AcsTransId: s.kid,
				AcsUrl: "https://acs.example/challenge", SdkEphemPubKey: s.jwk(), SdkReferenceNumber: "3DS_LOA_SDK_PPFU_020100_00007", Enc: tc.enc})
			if err != nil {
				t.Fatal(err)
			}
			// The JWS verifies independently with go-jose against its x5c leaf.
			jws, err := jose.ParseSigned(resp.AcsSignedContent, []jose.SignatureAlgorithm{jose.ES256, jose.PS256})
			if err != nil {
				t.Fatal(err)
			}
			h := jws.Signatures[0].Protected
			roots := x509.NewCertPool()
			roots.AddCert(env.CA.Cert)
			chains, err := h.Certificates(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			if h.Algorithm != tc.alg || err != nil {
				t.Fatalf("JWS header alg %s; x5c chain: %v", h.Algorithm, err)
			}
			payload, err := jws.Verify(chains[0][0].PublicKey)
			if err != nil {
				t.Fatalf("acsSignedContent does not verify with the x5c leaf: %v", err)
			}
			var content struct {
				AcsURL         string          `json:"acsURL"`
				AcsEphemPubKey json.RawMessage `json:"acsEphemPubKey"`
				SdkEphemPubKey json.RawMessage `json:"sdkEphemPubKey"`
			}
			if err := json.Unmarshal(payload, &content); err != nil || content.AcsURL != "https://acs.example/challenge" || !bytes.Equal(content.SdkEphemPubKey, s.jwk()) {
				t.Fatalf("signed content %s (%v)", payload, err)
			}
			s.agree(t, content.AcsEphemPubKey, "3DS_LOA_SDK_PPFU_020100_00007")

			for n, server := range []*harness.Env{env, replica, env} {
				tds := pb.NewThreeDSServiceClient(server.Conn("acs"))
				jwe, msg := s.creq(n)
				got, err := tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: resp.SessionId, Jwe: jwe})
				if err != nil {
					t.Fatalf("CReq %d: %v", n, err)
				}
				if !bytes.Equal(got.Creq, msg) {
					t.Fatalf("CReq %d decrypted to %s", n, got.Creq)
				}
				_, err = tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: resp.SessionId, Jwe: jwe})
				wantCode(t, err, codes.InvalidArgument) // replayed
				cres := []byte(fmt.Sprintf(`{"acsCounterAtoS":"%03d","acsTransID":"%s","messageType":"CRes","transStatus":"Y"}`, n, s.kid))
				out, err := tds.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: resp.SessionId, Cres: cres})
				if err != nil {
					t.Fatalf("CRes %d: %v", n, err)
				}
				if pt := s.cres(t, out.Jwe, n); !bytes.Equal(pt, cres) {
					t.Fatalf("CRes %d decrypted to %s", n, pt)
				}
			}
			// A tampered CReq and an unknown session are refused.
			jwe, _ := s.creq(3)
			_, err = tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: resp.SessionId, Jwe: jwe[:len(jwe)-2] + "AA"})
			wantCode(t, err, codes.InvalidArgument)
			_, err = tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: "AAAAAAAAAAAAAAAAAAAAAA", Jwe: jwe})
			wantCode(t, err, codes.NotFound)
			// Another service may not run the ACS's challenges.
			_, err = pb.NewThreeDSServiceClient(env.Conn("stranger")).DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: resp.SessionId, Jwe: jwe})
			wantCode(t, err, codes.PermissionDenied)
		})
	}

	t.Run("invalid-curve SDK key is refused", func(t *testing.T) {
		bad := []byte(`{"kty":"EC","crv":"P-256","x":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"}`)
		_, err := pb.NewThreeDSServiceClient(env.Conn("acs")).CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing",
			AcsTransId: "t", AcsUrl: "https://acs.example", SdkEphemPubKey: bad, SdkReferenceNumber: "ref"})
		wantCode(t, err, codes.InvalidArgument)
	})
}

// The DS decrypts device data encrypted by an SDK under its RSA key.
func TestSdkEncDataRSA(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("ds-enc", "RSA_2048", "ENCRYPT_DECRYPT")
	ctx := context.Background()
	pub, err := env.Crypto("ds").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "ds-enc"})
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := must(x509.ParsePKIXPublicKey(pub.PublicKey)).(*rsa.PublicKey)
	deviceData := []byte(`{"DV":"1.0","DD":{"C001":"Android"}}`)
	cek := make([]byte, 16)
	rand.Read(cek)
	ek, _ := rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaPub, cek, nil)
	hdr := b64.EncodeToString([]byte(`{"alg":"RSA-OAEP-256","enc":"A128GCM"}`))
	iv := make([]byte, 12)
	rand.Read(iv)
	gcm := sdkGCM(cek)
	sealed := gcm.Seal(nil, iv, deviceData, []byte(hdr))
	jwe := hdr + "." + b64.EncodeToString(ek) + "." + b64.EncodeToString(iv) + "." + b64.EncodeToString(sealed[:len(sealed)-16]) + "." + b64.EncodeToString(sealed[len(sealed)-16:])
	got, err := pb.NewThreeDSServiceClient(env.Conn("ds")).DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{KeyId: "ds-enc", Jwe: jwe})
	if err != nil || !bytes.Equal(got.DeviceData, deviceData) {
		t.Fatalf("DecryptSdkEncData: %s %v", got.GetDeviceData(), err)
	}
}

// The DS decrypts device data encrypted by an SDK under its EC key:
// ECDH-ES with the 3DS Concat KDF, PartyVInfo = the DS ID.
func TestSdkEncDataEC(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("ds-ecdh", "ECC_NIST_P256", "KEY_AGREEMENT")
	ctx := context.Background()
	pub, err := env.Crypto("ds").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "ds-ecdh"})
	if err != nil {
		t.Fatal(err)
	}
	dsPub := must(must(x509.ParsePKIXPublicKey(pub.PublicKey)).(*ecdsa.PublicKey).ECDH())
	dsKey := dsPub.Bytes()
	dsJWK := []byte(fmt.Sprintf(`{"x":"%s","y":"%s"}`, b64.EncodeToString(dsKey[1:33]), b64.EncodeToString(dsKey[33:])))
	// The SDK side: its ephemeral key is the epk; the CEK comes from ECDH
	// with the DS key and the KDF with the DS ID.
	s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader))}
	s.agree(t, dsJWK, "A000000802")
	epk := s.priv.PublicKey().Bytes()
	hdr := b64.EncodeToString([]byte(fmt.Sprintf(`{"alg":"ECDH-ES","enc":"A128CBC-HS256","epk":{"kty":"EC","crv":"P-256","x":"%s","y":"%s"}}`,
		b64.EncodeToString(epk[1:33]), b64.EncodeToString(epk[33:]))))
	deviceData := []byte(`{"DV":"1.0","DD":{"C001":"Android","C002":"HTC One_M8"}}`)
	iv := make([]byte, 16)
	rand.Read(iv)
	pad := 16 - len(deviceData)%16
	pt := append(append([]byte{}, deviceData...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(must(aes.NewCipher(s.cek[16:])), iv).CryptBlocks(ct, pt)
	jwe := hdr + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(ct) + "." + b64.EncodeToString(cbcTag(s.cek[:16], hdr, iv, ct))

	tds := pb.NewThreeDSServiceClient(env.Conn("ds"))
	got, err := tds.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{KeyId: "ds-ecdh", Jwe: jwe, DsId: "A000000802"})
	if err != nil || !bytes.Equal(got.DeviceData, deviceData) {
		t.Fatalf("DecryptSdkEncData: %s %v", got.GetDeviceData(), err)
	}
	// Another DS ID derives another key: the one fixed decryption error.
	_, err = tds.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{KeyId: "ds-ecdh", Jwe: jwe, DsId: "A000000004"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = tds.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{KeyId: "ds-ecdh", Jwe: jwe})
	wantCode(t, err, codes.InvalidArgument) // an EC DS key needs the DS ID
}
