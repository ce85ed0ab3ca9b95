package main

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/keygate/keygate/internal/devca"
)

// test3DS walks an ACS challenge session and a DS sdkEncData decryption
// through the CLI, playing the SDK with crypto/ecdh and go-jose.
func test3DS(t *testing.T, c *cli) {
	const sdkRef = "A Dummy SDK Reference Number"
	acsPub := publicKey(t, c, "acs-signing").(*ecdsa.PublicKey)
	leaf, err := c.env.CA.Sign("acs.example", acsPub)
	if err != nil {
		t.Fatal(err)
	}
	chain := string(devca.CertPEM(leaf)) + string(devca.CertPEM(c.env.CA.Cert))
	if out := c.ok(chain, "keys", "import-cert", "acs-signing", "--version", "1", "--chain", "-"); !strings.Contains(out, "2 certificates imported") {
		t.Errorf("keys import-cert: %s", out)
	}
	if got := c.ok("", "keys", "get-cert", "acs-signing", "--version", "1"); got != chain {
		t.Errorf("keys get-cert returned another chain:\n%s", got)
	}
	other, _ := c.env.CA.Sign("not.acs", publicKey(t, c, "acs-signing-384"))
	c.fails(exitArgument, "keygate: InvalidArgument: ", string(devca.CertPEM(other)), "keys", "import-cert", "acs-signing", "--chain-file", "-")

	// The SDK's ephemeral key as the AReq's JWK.
	sdk, _ := ecdh.P256().GenerateKey(rand.Reader)
	pt := sdk.PublicKey().Bytes()
	jwk := `{"kty":"EC","crv":"P-256","x":"` + b64url(pt[1:33]) + `","y":"` + b64url(pt[33:]) + `"}`
	var sess struct {
		ID      string `json:"session_id"`
		Content string `json:"acs_signed_content"`
		Ephem   []byte `json:"acs_ephem_pub_key"`
	}
	acsTransID := "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"
	// Issue 6's spelling: --key is the key NAME after the verb (the client
	// key file went before it, in c.base).
	decode(t, c.ok("", "--output", "json", "3ds", "create-session", "--key-id", "acs-signing", "--acs-trans-id", acsTransID,
		"--acs-url", "https://acs.example/challenge", "--sdk-ephem-pub-key", c.file("sdk-jwk.json", []byte(jwk)),
		"--sdk-reference-number", sdkRef, "--enc", "A128CBC-HS256"), &sess)

	// acsSignedContent: ES256 over the first two parts, x5c = our leaf.
	parts := strings.Split(sess.Content, ".")
	if len(parts) != 3 {
		t.Fatalf("acsSignedContent is not a JWS compact: %q", sess.Content)
	}
	var hdr struct {
		Alg string   `json:"alg"`
		X5c [][]byte `json:"x5c"`
	}
	decode(t, string(unb64url(t, parts[0])), &hdr)
	sig := unb64url(t, parts[2])
	d := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if hdr.Alg != "ES256" || len(hdr.X5c) != 2 || string(hdr.X5c[0]) != string(leaf.Raw) || len(sig) != 64 ||
		!ecdsa.Verify(acsPub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Fatalf("acsSignedContent does not verify: header %s", unb64url(t, parts[0]))
	}

	// The SDK's side of the session key: ECDH with the ACS ephemeral key,
	// then the 3DS Concat KDF with the SDK Reference Number.
	var acsEphem struct{ X, Y string }
	decode(t, string(sess.Ephem), &acsEphem)
	acsEphemPub, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, unb64url(t, acsEphem.X)...), unb64url(t, acsEphem.Y)...))
	if err != nil {
		t.Fatal(err)
	}
	z, _ := sdk.ECDH(acsEphemPub)
	cek := concatKDF(z, nil, nil, []byte(sdkRef))

	creq := `{"acsTransID":"` + acsTransID + `","messageType":"CReq","messageVersion":"2.2.0","sdkCounterStoA":"000"}`
	enc, err := jose.NewEncrypter(jose.A128CBC_HS256, jose.Recipient{Algorithm: jose.DIRECT, Key: cek},
		(&jose.EncrypterOptions{}).WithHeader("kid", acsTransID))
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := enc.Encrypt([]byte(creq))
	creqJWE, _ := obj.CompactSerialize()
	var creqResp struct {
		CReq []byte `json:"creq"`
	}
	decode(t, c.ok(creqJWE+"\n", "--output", "json", "3ds", "decrypt-creq", "--session", sess.ID, "--jwe-file", "-"), &creqResp)
	if string(creqResp.CReq) != creq {
		t.Errorf("3ds decrypt-creq = %q, want %q", creqResp.CReq, creq)
	}
	c.fails(exitArgument, "keygate: InvalidArgument: ", creqJWE, "3ds", "decrypt-creq", "--session", sess.ID, "--jwe-file", "-")

	cres := `{"acsTransID":"` + acsTransID + `","messageType":"CRes","acsCounterAtoS":"000","transStatus":"Y"}`
	var cresResp struct{ JWE string }
	decode(t, c.ok("", "--output", "json", "3ds", "encrypt-cres", "--session", sess.ID, "--json-file", c.file("cres.json", []byte(cres))), &cresResp)
	cresJWE := cresResp.JWE
	parsed, err := jose.ParseEncrypted(cresJWE, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A128CBC_HS256})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parsed.Decrypt(cek); err != nil || string(got) != cres {
		t.Errorf("the CRes JWE decrypts to %q (%v), want %q", got, err, cres)
	}

	// sdkEncData under the DS's RSA key (RSA-OAEP-256).
	device := `{"DV":"1.0","DD":{"C001":"Android"}}`
	enc, err = jose.NewEncrypter(jose.A128CBC_HS256, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: publicKey(t, c, "ds-enc")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ = enc.Encrypt([]byte(device))
	sdkEnc, _ := obj.CompactSerialize()
	if got := c.ok(sdkEnc, "3ds", "decrypt-sdk-enc-data", "--key-id", "ds-enc", "--jwe-file", "-", "--ds-id", "A000000802"); got != device+"\n" {
		t.Errorf("3ds decrypt-sdk-enc-data = %q, want %q", got, device)
	}
	var dd struct {
		DeviceData []byte `json:"device_data"`
	}
	decode(t, c.ok(sdkEnc, "--output", "json", "3ds", "decrypt-sdk-enc-data", "ds-enc", "--jwe-file", "-", "--ds-id", "A000000802"), &dd)
	if string(dd.DeviceData) != device {
		t.Errorf("3ds decrypt-sdk-enc-data --output json: %q", dd.DeviceData)
	}
	test3DSKeyFlag(t, c, jwk)
}

// test3DSKeyFlag: the rule for --key after a 3ds verb. The old spelling
// (positional NAME, create-acs-session) still works; two names are refused;
// the client key file can follow the verb as --client-key.
func test3DSKeyFlag(t *testing.T, c *cli, jwk string) {
	args := []string{"--acs-trans-id", "8a880dc0-d2d2-4067-bcb1-b08d1690b26e", "--acs-url", "https://acs.example/challenge",
		"--sdk-ephem-pub-key-file", "-", "--sdk-reference-number", "ref"}
	c.fails(exitState, "keygate: FailedPrecondition: ", jwk, append([]string{"3ds", "create-acs-session", "acs-signing-rsa"}, args...)...)
	c.fails(exitUsage, "keygate: two key names given (acs-signing, acs-signing-rsa)", jwk,
		append([]string{"3ds", "create-session", "acs-signing", "--key-id", "acs-signing-rsa"}, args...)...)
	c.fails(exitUsage, "keygate: the key NAME is required", jwk, append([]string{"3ds", "create-session"}, args...)...)

	// The client key after the verb: --client-key.
	noKey := *c
	noKey.base = slices.Clone(c.base[:len(c.base)-2])
	if c.base[len(c.base)-2] != "--client-key" {
		t.Fatalf("the test's global flags end %q, want --client-key FILE", c.base[len(c.base)-2:])
	}
	out := noKey.ok(jwk, append([]string{"--output", "json", "3ds", "create-session", "--key-id", "acs-signing",
		"--client-key", c.base[len(c.base)-1]}, args...)...)
	if !strings.Contains(out, `"session_id"`) {
		t.Errorf("3ds create-session with --client-key after the verb: %s", out)
	}
	noKey.fails(exitUsage, "keygate: --client-key (or KEYGATE_KEY) is required", jwk,
		append([]string{"3ds", "create-session", "--key-id", "acs-signing"}, args...)...)
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64url(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}
