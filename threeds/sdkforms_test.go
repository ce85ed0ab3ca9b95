package threeds

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// sdkECDHES encrypts device data as an SDK does for an EC DS key, with
// header alg = alg: "ECDH-ES" (the spec) or "dir" (Stripe Android, whose
// nimbus-jose DirectEncrypter labels the same ECDH + 3DS KDF "dir" and puts
// the ephemeral key in epk). The KDF is sdkKDF, written from DESIGN.md; the
// "dir" form is made by go-jose's own direct encrypter, the "ECDH-ES" one
// with crypto/cipher (go-jose's ECDH-ES uses JOSE's KDF, not the 3DS one).
func sdkECDHES(t testing.TB, ds any, dsID string, enc Enc, pt, alg string) string {
	t.Helper()
	var dsPub *ecdh.PublicKey
	var err error
	switch k := ds.(type) {
	case *ecdsa.PrivateKey:
		dsPub, err = k.PublicKey.ECDH()
	case *ecdsa.PublicKey:
		dsPub, err = k.ECDH()
	default:
		t.Fatalf("DS key %T", ds)
	}
	if err != nil {
		t.Fatal(err)
	}
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	z, _ := eph.ECDH(dsPub)
	cek := sdkKDF(z, dsID)
	if enc == A128GCM {
		cek = cek[:16]
	}
	e := base64.RawURLEncoding.EncodeToString
	p := eph.PublicKey().Bytes()
	epk := map[string]string{"kty": "EC", "crv": "P-256", "x": e(p[1:33]), "y": e(p[33:])}

	if alg == "dir" {
		opts := (&jose.EncrypterOptions{}).WithHeader("epk", epk)
		enc, err := jose.NewEncrypter(jose.ContentEncryption(enc), jose.Recipient{Algorithm: jose.DIRECT, Key: cek}, opts)
		if err != nil {
			t.Fatal(err)
		}
		var obj *jose.JSONWebEncryption
		asCounterparty(func() { obj, err = enc.Encrypt([]byte(pt)) })
		if err != nil {
			t.Fatal(err)
		}
		out, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	epkJSON, _ := json.Marshal(epk)
	hdr := e([]byte(fmt.Sprintf(`{"alg":%q,"enc":%q,"epk":%s}`, alg, enc, epkJSON)))
	if enc == A128GCM {
		iv := make([]byte, 12)
		rand.Read(iv)
		ct, tag := counterpartyGCMSeal(t, cek, iv, []byte(pt), []byte(hdr))
		return hdr + ".." + e(iv) + "." + e(ct) + "." + e(tag)
	}
	iv := make([]byte, 16)
	rand.Read(iv)
	pad := 16 - len(pt)%16
	padded := append([]byte(pt), bytes.Repeat([]byte{byte(pad)}, pad)...)
	blk, _ := aes.NewCipher(cek[16:])
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(padded, padded)
	m := hmac.New(sha256.New, cek[:16])
	m.Write([]byte(hdr))
	m.Write(iv)
	m.Write(padded)
	binary.Write(m, binary.BigEndian, uint64(len(hdr))*8)
	return hdr + ".." + e(iv) + "." + e(padded) + "." + e(m.Sum(nil)[:16])
}

// Stripe Android's EC form decrypts with the switch on, is refused with it
// off, and is reported as the form it is; the spec's form is unaffected.
func TestSdkEncDataDirEPKForm(t *testing.T) {
	ctx := context.Background()
	v, _ := loadVectors(t)
	ds := vectorKey(t, v.DSEC, keys.KeyAgreement)
	const dd = `{"DV":"1.0","DD":{"C001":"Android","C002":"Pixel 8"}}`
	for _, enc := range []Enc{A128CBCHS256, A128GCM} {
		t.Run(string(enc), func(t *testing.T) {
			stripe := sdkECDHES(t, ds.ec, v.DSID, enc, dd, "dir")
			spec := sdkECDHES(t, ds.ec, v.DSID, enc, dd, "ECDH-ES")
			pt, form, err := DecryptSdkEncData(ctx, ds, stripe, SdkEncOptions{DSID: v.DSID, AllowDirEPK: true})
			if err != nil || string(pt) != dd || form != FormDirEPK {
				t.Fatalf("dir+epk, switch on: %s %q %v", pt, form, err)
			}
			_, _, err = DecryptSdkEncData(ctx, ds, stripe, SdkEncOptions{DSID: v.DSID})
			wantKind(t, err, kgerr.InvalidArgument, "threeds.accept_dir_epk is off")
			for _, allow := range []bool{false, true} {
				pt, form, err = DecryptSdkEncData(ctx, ds, spec, SdkEncOptions{DSID: v.DSID, AllowDirEPK: allow})
				if err != nil || string(pt) != dd || form != FormECDHES {
					t.Fatalf("ECDH-ES (switch %v): %s %q %v", allow, pt, form, err)
				}
			}
			// The dir form still needs the DS ID and an EC key agreement key.
			_, _, err = DecryptSdkEncData(ctx, ds, stripe, SdkEncOptions{DSID: "A000000004", AllowDirEPK: true})
			wantKind(t, err, kgerr.InvalidArgument, DecryptFailedMsg)
			_, _, err = DecryptSdkEncData(ctx, newAESKey("aes"), stripe, SdkEncOptions{DSID: v.DSID, AllowDirEPK: true})
			wantKind(t, err, kgerr.FailedPrecondition, "KEY_AGREEMENT")
		})
	}
	// "dir" without an epk is no sdkEncData form at all.
	parts := strings.Split(sdkECDHES(t, ds.ec, v.DSID, A128GCM, dd, "dir"), ".")
	_, _, err := DecryptSdkEncData(ctx, ds, withHeader(parts, `{"alg":"dir","enc":"A128GCM"}`), SdkEncOptions{DSID: v.DSID, AllowDirEPK: true})
	wantKind(t, err, kgerr.InvalidArgument, "must be RSA-OAEP-256 or ECDH-ES")
}

// The SDK behaviours keygate tolerates in a CReq (docs/3DS-SDKS.md): any
// A128CBC-HS256 IV (random, all zero, or 00…‖counter as some SDKs make
// it), each encrypted by the independent SDK side.
func TestCReqCBCIVForms(t *testing.T) {
	f := newFixture(t, A128CBCHS256, newECKey(t, keys.SignVerify))
	ctx := context.Background()
	ivs := map[string]func(n int) []byte{
		"zero":    func(int) []byte { return make([]byte, 16) },
		"counter": func(n int) []byte { iv := make([]byte, 16); iv[15] = byte(n); return iv },
		"random":  func(int) []byte { iv := make([]byte, 16); rand.Read(iv); return iv },
		"ones":    func(int) []byte { return bytes.Repeat([]byte{0xFF}, 16) },
	}
	for _, name := range []string{"zero", "counter", "random", "ones"} {
		n := f.sdk.sdkCounter
		jwe := f.sdk.creqCBCWithIV(t, n, ivs[name](n))
		f.sdk.sdkCounter++
		if _, err := f.acs.DecryptCReq(ctx, testOwner, f.id, jwe); err != nil {
			t.Fatalf("CBC IV %s: %v", name, err)
		}
	}
}

// creqCBCWithIV encrypts a CReq under A128CBC-HS256 with a chosen IV, by
// hand (go-jose picks its own IVs).
func (s *testSDK) creqCBCWithIV(t testing.TB, counter int, iv []byte) string {
	t.Helper()
	body := fmt.Sprintf(`{"acsTransID":%q,"messageType":"CReq","messageVersion":"2.3.1","sdkCounterStoA":"%03d"}`, s.acsTransID, counter)
	e := base64.RawURLEncoding.EncodeToString
	hdr := e([]byte(fmt.Sprintf(`{"alg":"dir","enc":"A128CBC-HS256","kid":%q}`, s.acsTransID)))
	pad := 16 - len(body)%16
	ct := append([]byte(body), bytes.Repeat([]byte{byte(pad)}, pad)...)
	blk, _ := aes.NewCipher(s.cek[16:])
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(ct, ct)
	m := hmac.New(sha256.New, s.cek[:16])
	m.Write([]byte(hdr))
	m.Write(iv)
	m.Write(ct)
	binary.Write(m, binary.BigEndian, uint64(len(hdr))*8)
	return hdr + ".." + e(iv) + "." + e(ct) + "." + e(m.Sum(nil)[:16])
}
