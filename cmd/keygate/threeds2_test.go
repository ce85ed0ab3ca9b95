package main

import (
	"crypto/ecdsa"
	"crypto/x509"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// The issue-15 verbs through the CLI: OTPs, a DS key's kids, an ACS chain
// by DS and a session signed with it.
func TestCLIThreeDSIssue15(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKeyWithPolicy("otp-seed", "HMAC_160", "GENERATE_VERIFY_MAC", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "AcsOTP", Principals: []string{harness.ARN("acs")}, Actions: []string{"keygate:GenerateOtp", "keygate:VerifyOtp"}}))
	env.CreateKey("ds-ecdh", "ECC_NIST_P256", "KEY_AGREEMENT")
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	acs, admin := newCLI(t, env, "acs"), newCLI(t, env, "admin")

	code := strings.TrimSpace(acs.ok("", "3ds", "generate-otp", "otp-seed", "--mode", "HOTP", "--counter", "2"))
	if len(code) != 6 {
		t.Fatalf("generate-otp: %q", code)
	}
	if out := acs.ok("", "3ds", "verify-otp", "otp-seed", "--mode", "HOTP", "--otp", code, "--window", "2"); !strings.Contains(out, "valid (counter 2") {
		t.Fatalf("verify-otp: %s", out)
	}
	acs.fails(exitArgument, "keygate: InvalidArgument: the one-time password is not valid", "", "3ds", "verify-otp", "otp-seed", "--mode", "HOTP", "--otp", code, "--window", "2")

	if out := admin.ok("", "3ds", "set-ds-kids", "ds-ecdh", "--kids", "ds-2026,ds-2026-b"); !strings.Contains(out, "ds-ecdh version 1 kids: ds-2026, ds-2026-b") {
		t.Fatalf("set-ds-kids: %s", out)
	}

	pub, err := env.Crypto("admin").GetPublicKey(t.Context(), &pb.GetPublicKeyRequest{KeyId: "acs-signing"})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := x509.ParsePKIXPublicKey(pub.PublicKey)
	visa, _ := devca.New("Visa DS CA")
	leaf, _ := visa.Sign("ACS", key.(*ecdsa.PublicKey))
	chain := string(devca.CertPEM(leaf)) + string(devca.CertPEM(visa.Cert))
	if out := admin.ok(chain, "3ds", "import-acs-chain", "acs-signing", "--ds", "visa", "--chain-file", "-"); !strings.Contains(out, "DS visa: 2 certificates imported") {
		t.Fatalf("import-acs-chain: %s", out)
	}
	jwk := `{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}`
	out := acs.ok("", "3ds", "create-session", "acs-signing", "--ds", "visa", "--acs-trans-id", "t1", "--acs-url", "https://acs.example",
		"--sdk-ephem-pub-key", acs.file("jwk.json", []byte(jwk)), "--sdk-reference-number", "ref")
	if !strings.Contains(out, "acsSignedContent:") {
		t.Fatalf("create-session --ds: %s", out)
	}
}
