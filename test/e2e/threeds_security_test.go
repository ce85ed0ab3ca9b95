package e2e

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/sqldb"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// acsEnv is a keygated with an ACS signing key (chain imported) and the
// session sealing key.
func acsEnv(t *testing.T, opts harness.Options) *harness.Env {
	t.Helper()
	env := harness.Start(t, opts)
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	env.CertifyKey("acs-signing", "ACS")
	return env
}

// openSession runs CreateAcsSession as acs and has the SDK side agree the
// CEK from the signed content's acsEphemPubKey.
func openSession(t *testing.T, env *harness.Env, enc string) (*sdk, string) {
	t.Helper()
	s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader)), enc: enc, kid: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
	resp, err := pb.NewThreeDSServiceClient(env.Conn("acs")).CreateAcsSession(context.Background(), &pb.CreateAcsSessionRequest{KeyId: "acs-signing",
		AcsTransId: s.kid, AcsUrl: "https://acs.example/challenge", SdkEphemPubKey: s.jwk(), SdkReferenceNumber: "3DS_LOA_SDK_PPFU_020100_00007", Enc: enc})
	if err != nil {
		t.Fatal(err)
	}
	s.agree(t, resp.AcsEphemPubKey, "3DS_LOA_SDK_PPFU_020100_00007")
	return s, resp.SessionId
}

// Issue 11 defect 5 and its 3DS findings, over the real server.
func TestThreeDSSessionSecurity(t *testing.T) {
	env := acsEnv(t, harness.Options{})
	ctx := context.Background()
	acs := pb.NewThreeDSServiceClient(env.Conn("acs"))

	// The caller cannot set any lifetime: above threeds.session_ttl (10m) is refused.
	_, err := acs.CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: "t",
		AcsUrl: "https://acs.example", SdkEphemPubKey: (&sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader))}).jwk(),
		SdkReferenceNumber: "ref", TtlSeconds: 4e9})
	wantCode(t, err, codes.InvalidArgument)
	if !strings.Contains(status.Convert(err).Message(), "at most 600") {
		t.Fatalf("ttl refusal: %v", err)
	}

	s, id := openSession(t, env, "A128GCM")
	// One session-id check: 22 base64url characters, or InvalidArgument.
	for _, bad := range []string{"", "x", strings.Repeat("A", 64), strings.Repeat("A", 21) + "\n"} {
		_, err := acs.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: bad, Jwe: "a.b.c.d.e"})
		wantCode(t, err, codes.InvalidArgument)
	}

	// Another principal with the challenge actions (3ds-server, under the
	// same open policy) gets what an unknown session gets.
	jwe, msg := s.creq(0)
	other := pb.NewThreeDSServiceClient(env.Conn("3ds-server"))
	_, errOther := other.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: id, Jwe: jwe})
	_, errUnknown := other.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: "AAAAAAAAAAAAAAAAAAAAAA", Jwe: jwe})
	wantCode(t, errOther, codes.NotFound)
	if status.Convert(errOther).Message() != status.Convert(errUnknown).Message() {
		t.Fatalf("another's session %v, an unknown one %v", errOther, errUnknown)
	}
	_, err = other.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: id, Cres: []byte(`{}`)})
	wantCode(t, err, codes.NotFound)
	got, err := acs.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: id, Jwe: jwe})
	if err != nil || !bytes.Equal(got.Creq, msg) {
		t.Fatalf("owner's CReq: %v", err)
	}
	cres := []byte(fmt.Sprintf(`{"acsTransID":"%s","messageType":"CRes"}`, s.kid))
	if _, err := acs.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: id, Cres: cres}); err != nil {
		t.Fatal(err)
	}

	// A database writer resets acs_counter to reuse the A128GCM IV FF×11‖00.
	db, err := sqldb.Open(env.Config.Store.Driver, env.Config.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, `UPDATE threeds_challenge_sessions SET acs_counter = 0 WHERE id = ?`, id)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("reset: %v (%d rows)", err, n)
	}
	_, err = acs.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: id, Cres: cres})
	wantCode(t, err, codes.Internal)
}

// Issue 15.1: a 2.3.1 CRes carrying a 300,000-character acsHTML
// round-trips in both enc modes; one over the bound is refused naming it.
func TestThreeDS231Sizes(t *testing.T) {
	env := acsEnv(t, harness.Options{})
	ctx := context.Background()
	acs := pb.NewThreeDSServiceClient(env.Conn("acs"))
	html := b64.EncodeToString(bytes.Repeat([]byte("<p>challenge</p>"), 300_000*3/4/16+1))[:300_000]
	for _, enc := range []string{"A128CBC-HS256", "A128GCM"} {
		t.Run(enc, func(t *testing.T) {
			s, id := openSession(t, env, enc)
			jwe, _ := s.creq(0)
			if _, err := acs.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: id, Jwe: jwe}); err != nil {
				t.Fatal(err)
			}
			cres := []byte(fmt.Sprintf(`{"acsCounterAtoS":"000","acsHTML":"%s","acsTransID":"%s","acsUiType":"05","messageType":"CRes","messageVersion":"2.3.1"}`, html, s.kid))
			out, err := acs.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: id, Cres: cres})
			if err != nil {
				t.Fatalf("CRes with a 300,000-character acsHTML: %v", err)
			}
			if pt := s.cres(t, out.Jwe, 0); !bytes.Equal(pt, cres) {
				t.Fatal("the CRes did not round-trip")
			}
			huge := append([]byte(`{"acsHTML":"`), bytes.Repeat([]byte("A"), 400_000)...)
			_, err = acs.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: id, Cres: append(huge, `"}`...)})
			wantCode(t, err, codes.InvalidArgument)
			if !strings.Contains(status.Convert(err).Message(), "2.3.1") {
				t.Fatalf("oversized CRes: %v", err)
			}
		})
	}
}

// Issue 15.2: Stripe Android's EC sdkEncData form decrypts with the switch
// on, is refused with it off, and the audit detail says which form arrived.
func TestSdkEncDataStripeForm(t *testing.T) {
	ctx := context.Background()
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("accept_dir_epk=", on), func(t *testing.T) {
			env := harness.Start(t, harness.Options{ExtraConfig: fmt.Sprintf("threeds: {accept_dir_epk: %t}\n", on)})
			env.CreateKey("ds-ecdh", "ECC_NIST_P256", "KEY_AGREEMENT")
			pub, err := env.Crypto("ds").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "ds-ecdh"})
			if err != nil {
				t.Fatal(err)
			}
			dsPub := must(must(x509.ParsePKIXPublicKey(pub.PublicKey)).(*ecdsa.PublicKey).ECDH())
			dd := []byte(`{"DV":"1.0","DD":{"C001":"Android","C002":"Pixel 8"}}`)
			jwe := stripeEncrypt(t, dsPub, "A000000802", dd)
			tds := pb.NewThreeDSServiceClient(env.Conn("ds"))
			got, err := tds.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{KeyId: "ds-ecdh", Jwe: jwe, DsId: "A000000802"})
			if on {
				if err != nil || !bytes.Equal(got.DeviceData, dd) {
					t.Fatalf("dir+epk with the switch on: %v", err)
				}
			} else {
				wantCode(t, err, codes.InvalidArgument)
				if !strings.Contains(status.Convert(err).Message(), "accept_dir_epk is off") {
					t.Fatalf("refusal: %v", err)
				}
			}
			evs := events(t, env, &pb.EventFilter{KeyName: "ds-ecdh", Action: "keygate:DecryptSdkEncData"})
			if len(evs) != 1 || evs[0].Detail != "sdkEncData form dir+epk" {
				t.Fatalf("audit: %v", evs)
			}
		})
	}
}

// stripeEncrypt encrypts device data the way Stripe's Android SDK does for
// an EC DS key: an ephemeral P-256 key, ECDH, the 3DS Concat KDF with the
// DS ID, then a JWE labelled {"alg":"dir","enc":"A128CBC-HS256","epk":…}.
func stripeEncrypt(t *testing.T, dsPub *ecdh.PublicKey, dsID string, pt []byte) string {
	t.Helper()
	s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader))}
	p := dsPub.Bytes()
	s.agree(t, []byte(fmt.Sprintf(`{"x":"%s","y":"%s"}`, b64.EncodeToString(p[1:33]), b64.EncodeToString(p[33:]))), dsID)
	epk := s.priv.PublicKey().Bytes()
	hdr := b64.EncodeToString([]byte(fmt.Sprintf(`{"alg":"dir","enc":"A128CBC-HS256","epk":{"kty":"EC","crv":"P-256","x":"%s","y":"%s"}}`,
		b64.EncodeToString(epk[1:33]), b64.EncodeToString(epk[33:]))))
	s.enc, s.kid = "A128CBC-HS256", ""
	return cbcJWE(s.cek, hdr, pt)
}

// cbcJWE is an A128CBC-HS256 JWE under the 32-byte cek with a random IV.
func cbcJWE(cek []byte, hdr string, msg []byte) string {
	iv := make([]byte, 16)
	rand.Read(iv)
	pad := 16 - len(msg)%16
	pt := append(append([]byte{}, msg...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(must(aes.NewCipher(cek[16:])), iv).CryptBlocks(ct, pt)
	return hdr + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(ct) + "." + b64.EncodeToString(cbcTag(cek[:16], hdr, iv, ct))
}
