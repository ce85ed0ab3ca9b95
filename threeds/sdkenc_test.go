package threeds

import (
	"context"
	"crypto/rsa"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

func joseEncrypt(t *testing.T, alg jose.KeyAlgorithm, enc jose.ContentEncryption, pub any, pt string) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: pub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var obj *jose.JSONWebEncryption
	asCounterparty(func() { obj, err = e.Encrypt([]byte(pt)) })
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSdkEncDataRefuses(t *testing.T) {
	ctx := context.Background()
	v, m := loadVectors(t)
	rsaPriv, _ := rsa.GenerateKey(randReader{}, 2048)
	rsaKey := &memKey{id: "rsa", spec: keys.RSA2048, usage: keys.EncryptDecrypt, rsa: rsaPriv}
	ecKey := vectorKey(t, v.DSEC, keys.KeyAgreement)

	// Standard RSA-OAEP-256 from an independent JOSE library decrypts.
	for _, enc := range []jose.ContentEncryption{jose.A128CBC_HS256, jose.A128GCM} {
		jwe := joseEncrypt(t, jose.RSA_OAEP_256, enc, &rsaPriv.PublicKey, v.DeviceInfo)
		if pt, _, err := DecryptSdkEncData(ctx, rsaKey, jwe, SdkEncOptions{}); err != nil || string(pt) != v.DeviceInfo {
			t.Fatalf("%s: %v", enc, err)
		}
		// A corrupted wrapped key gives the same error as a bad tag.
		parts := strings.Split(jwe, ".")
		parts[1] = flipBit(parts[1])
		_, _, err := DecryptSdkEncData(ctx, rsaKey, strings.Join(parts, "."), SdkEncOptions{})
		wantKind(t, err, kgerr.InvalidArgument, DecryptFailedMsg)
		// The right key type is required for the alg.
		_, _, err = DecryptSdkEncData(ctx, ecKey, jwe, SdkEncOptions{DSID: v.DSID})
		wantKind(t, err, kgerr.FailedPrecondition, "RSA")
	}

	ex3 := m.SDKEncData[2].JWE
	parts := strings.Split(ex3, ".")
	_, _, err := DecryptSdkEncData(ctx, rsaKey, ex3, SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.FailedPrecondition, "ECC_NIST_P256")
	_, _, err = DecryptSdkEncData(ctx, ecKey, ex3, SdkEncOptions{})
	wantKind(t, err, kgerr.InvalidArgument, "dsID")
	_, _, err = DecryptSdkEncData(ctx, ecKey, ex3, SdkEncOptions{DSID: "A000000003"}) // another DS's ID: another CEK
	wantKind(t, err, kgerr.InvalidArgument, DecryptFailedMsg)
	withKey := append([]string(nil), parts...)
	withKey[1] = "AAAA"
	_, _, err = DecryptSdkEncData(ctx, ecKey, strings.Join(withKey, "."), SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, "encrypted key must be empty")
	epk := `{"kty":"EC","crv":"P-256","x":"C1PL42i6kmNkM61aupEAgLJ4gF1ZRzcV7lqo1TG0mL4","y":"dNToWLSdcFQKG--PGVEUQrIHP8w6TcRyj0pyFx4-ZMc"}`
	_, _, err = DecryptSdkEncData(ctx, ecKey, withHeader(parts, `{"alg":"ECDH-ES","epk":`+epk+`,"enc":"A128CBC-HS256"}`), SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, "sdkEncData header.epk: the point (x, y) is not on the P-256 curve")
	_, _, err = DecryptSdkEncData(ctx, ecKey, withHeader(parts, `{"alg":"ECDH-ES","enc":"A128CBC-HS256"}`), SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, "epk is missing")
	_, _, err = DecryptSdkEncData(ctx, ecKey, withHeader(parts, `{"alg":"ECDH-ES+A128KW","enc":"A128CBC-HS256"}`), SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, "alg")
	_, _, err = DecryptSdkEncData(ctx, ecKey, withHeader(parts, `{"alg":"ECDH-ES","enc":"A256GCM"}`), SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, "enc")
	_, _, err = DecryptSdkEncData(ctx, ecKey, withHeader(parts, `{"alg":"ECDH-ES","zip":"DEF","enc":"A128GCM"}`), SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, "zip")
	_, _, err = DecryptSdkEncData(ctx, ecKey, "a.b.c", SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, "5 parts")

	// JOSE's standard ECDH-ES (enc in AlgorithmID, key sized to enc) is not
	// the 3DS KDF, so it does not decrypt.
	std := joseEncrypt(t, jose.ECDH_ES, jose.A128CBC_HS256, &ecKey.ec.PublicKey, v.DeviceInfo)
	_, _, err = DecryptSdkEncData(ctx, ecKey, std, SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, DecryptFailedMsg)
}
