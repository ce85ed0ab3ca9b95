package main

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

func testPolicy(t *testing.T, c *cli) {
	signOnly := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "AcsSigns", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign"}},
	)
	c.ok("", "keys", "create", "cli-policy", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY",
		"--policy-file", c.file("p1.json", []byte(signOnly)))
	var doc struct {
		Statement []struct{ Sid string }
	}
	decode(t, c.ok("", "keys", "get-policy", "cli-policy"), &doc)
	if len(doc.Statement) != 2 || doc.Statement[1].Sid != "AcsSigns" {
		t.Errorf("keys get-policy: %+v", doc)
	}

	acs := newCLI(t, c.env, "acs")
	m := acs.file("m", []byte("hi"))
	acs.ok("", "sign", "cli-policy", "--message-file", m)
	acs.fails(exitDenied, "keygate: PermissionDenied: ", "", "keys", "public-key", "cli-policy")

	// simulate explains, and says no with exit 1.
	out := c.ok("", "policy", "simulate", "cli-policy", "--principal", harness.ARN("acs"), "--action", "kms:Sign",
		"--signing-algorithm", "ECDSA_SHA_256")
	if !strings.HasPrefix(out, "Allow (statement AcsSigns)") {
		t.Errorf("policy simulate kms:Sign:\n%s", out)
	}
	out = c.fails(exitInvalid, "", "", "--output", "json", "policy", "simulate", "cli-policy", "--principal", harness.ARN("acs"), "--action", "kms:GetPublicKey")
	var sim map[string]any
	if decode(t, out, &sim); sim["allowed"] != false || sim["effect"] != "ImplicitDeny" {
		t.Errorf("policy simulate kms:GetPublicKey: %s", out)
	}

	// put-policy from stdin widens it; a lockout is refused; not JSON is a usage error.
	wider := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "AcsUses", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign", "kms:GetPublicKey"}},
	)
	if out := c.ok(wider, "keys", "put-policy", "cli-policy", "--policy-file", "-"); out != "policy of cli-policy replaced\n" {
		t.Errorf("keys put-policy printed %q", out)
	}
	acs.ok("", "keys", "public-key", "cli-policy")
	lockout := harness.Policy(harness.Statement{Sid: "AcsOnly", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:*"}})
	c.fails(exitState, "keygate: FailedPrecondition: ", lockout, "keys", "put-policy", "cli-policy", "--policy-file", "-")
	c.fails(exitUsage, "keygate: --policy-file - is not JSON", "Version: 2012", "keys", "put-policy", "cli-policy", "--policy-file", "-")
	acs.fails(exitDenied, "keygate: PermissionDenied: ", wider, "keys", "put-policy", "cli-policy", "--policy-file", "-")

	// SoftHSM keeps no policy of its own: nothing to diff or push.
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "policy", "diff", "cli-policy")
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "policy", "push", "cli-policy")
}

// testRawSecret: a KEY_AGREEMENT key created with --allow-raw-shared-secret
// gives derive --kdf RAW the ECDH secret itself.
func testRawSecret(t *testing.T, c *cli) {
	c.ok(harness.OpenPolicy(), "keys", "create", "cli-raw-ecdh", "--key-spec", "ECC_NIST_P256", "--key-usage", "KEY_AGREEMENT",
		"--allow-raw-shared-secret", "--policy-file", "-")
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hsmPub, err := publicKey(t, c, "cli-raw-ecdh").(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	z, _ := peer.ECDH(hsmPub)
	var resp struct {
		Secret []byte `json:"shared_secret"`
		KDF    string `json:"kdf"`
	}
	out := c.ok(string(peer.PublicKey().Bytes()), "--output", "json", "derive", "cli-raw-ecdh", "--public-key-file", "-", "--kdf", "RAW")
	err = json.Unmarshal([]byte(out), &resp)
	if string(resp.Secret) != string(z) || resp.KDF != "RAW" {
		t.Errorf("derive --kdf RAW: %s (%v); want the ECDH secret", out, err)
	}
}
