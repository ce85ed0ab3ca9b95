package main

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

func testPolicy(t *testing.T, c *cli) {
	signOnly := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "AcsSigns", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign"}},
	)
	c.create("", "keys", "create", "cli-policy", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY",
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
	c.fails(exitState, "keygate: FailedPrecondition: ", lockout, "keys", "put-policy", "cli-policy", "--file", "-")
	c.fails(exitUsage, "keygate: --file - is not JSON", "Version: 2012", "keys", "put-policy", "cli-policy", "--file", "-")
	acs.fails(exitDenied, "keygate: PermissionDenied: ", wider, "keys", "put-policy", "cli-policy", "--file", "-")
	// An account root principal is accepted, with a warning on stderr: in
	// keygate it means every principal mapped into the account.
	rooted := strings.Replace(wider, harness.ARN("acs"), "arn:aws:iam::"+harness.Account+":root", 1)
	if _, errOut, code := c.run(rooted, "keys", "put-policy", "cli-policy", "--file", "-"); code != 0 ||
		!strings.Contains(errOut, "keygate: warning: -: Statement[1] (Sid \"AcsUses\"): Principal.AWS: account "+harness.Account+" ") {
		t.Errorf("put-policy with an account root: exit %d, stderr %q", code, errOut)
	}

	testPolicyIssueSpelling(t, c, acs)

	// SoftHSM keeps no policy of its own: nothing to diff or push.
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "policy", "diff", "cli-policy")
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "policy", "push", "cli-policy")
}

// testPolicyIssueSpelling runs issue 4's spellings: put-policy --file and
// --force, simulate --key with --context as the encryption context.
func testPolicyIssueSpelling(t *testing.T, c, acs *cli) {
	cards := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "CardsOnly", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Encrypt"},
			Condition: map[string]map[string]any{"StringEquals": {"kms:EncryptionContext:purpose": "cards"}}},
	)
	c.create(harness.OpenPolicy(), "keys", "create", "cli-ec-policy", "--key-spec", "SYMMETRIC_DEFAULT", "--key-usage", "ENCRYPT_DECRYPT", "--policy-file", "-")
	c.ok("", "keys", "put-policy", "cli-ec-policy", "--file", c.file("cards.json", []byte(cards)))
	out := c.ok("", "policy", "simulate", "--principal", harness.ARN("acs"), "--action", "kms:Encrypt", "--key-id", "cli-ec-policy",
		"--context", "purpose=cards")
	if !strings.HasPrefix(out, "Allow (statement CardsOnly)") {
		t.Errorf("policy simulate --key --context purpose=cards:\n%s", out)
	}
	out = c.fails(exitInvalid, "", "", "policy", "simulate", "--principal", harness.ARN("acs"), "--action", "kms:Encrypt",
		"--key-id", "cli-ec-policy", "--context", "purpose=logs")
	if !strings.HasPrefix(out, "ImplicitDeny") {
		t.Errorf("policy simulate --context purpose=logs:\n%s", out)
	}
	c.fails(exitUsage, "keygate: two key names given (cli-policy, cli-ec-policy)", "", "policy", "simulate", "cli-policy",
		"--key-id", "cli-ec-policy", "--principal", harness.ARN("acs"), "--action", "kms:Encrypt")
	c.fails(exitUsage, "keygate: the key NAME is required", "", "policy", "simulate", "--principal", harness.ARN("acs"), "--action", "kms:Encrypt")

	// --force is KMS's bypass: the admins may lock themselves out on purpose.
	lockout := harness.Policy(harness.Statement{Sid: "AcsOnly", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:*"}})
	c.fails(exitState, "keygate: FailedPrecondition: ", lockout, "keys", "put-policy", "cli-ec-policy", "--file", "-")
	c.ok(lockout, "keys", "put-policy", "cli-ec-policy", "--file", "-", "--force")
	// The admins can no longer change it (the harness's admin is also an
	// auditor, so it still reads it).
	c.fails(exitDenied, "keygate: PermissionDenied: ", harness.OpenPolicy(), "keys", "put-policy", "cli-ec-policy", "--file", "-")
	acs.ok("", "keys", "get-policy", "cli-ec-policy")
}

// TestPolicyValidate checks documents offline: no server, no flags.
func TestPolicyValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(good, []byte(harness.OpenPolicy()), 0o600)
	os.WriteFile(bad, []byte(`{"Version":"2012-10-17","Statement":[
		{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
		{"Sid":"Oops","Effect":"Permit","Principal":{"AWS":"arn:aws:iam::111122223333:role/acs"},"Action":"kms:Sign","Resource":"*",
		 "Condition":{"StringEqualz":{"kms:SigningAlgorithm":"ECDSA_SHA_256"}}}]}`), 0o600)
	run1 := func(stdin string, args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(args, strings.NewReader(stdin), &out, &errb)
		return out.String(), errb.String(), code
	}
	if out, errOut, code := run1("", "policy", "validate", good); code != 0 || out != "valid\n" {
		t.Errorf("policy validate good.json: exit %d, %q %q", code, out, errOut)
	}
	out, errOut, code := run1("", "policy", "validate", bad)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The account root principal is legal but gets a warning first: in
	// keygate it means every principal mapped into the account.
	if code != exitArgument || errOut != "keygate: InvalidArgument: "+bad+": 2 problems in the key policy\n" || len(lines) != 3 ||
		!strings.HasPrefix(lines[0], bad+`: warning: Statement[0] (Sid "Admins"): Principal.AWS: account 111122223333 `) ||
		!strings.HasPrefix(lines[1], bad+`: Statement[1] (Sid "Oops"): Effect: `) ||
		!strings.HasPrefix(lines[2], bad+`: Statement[1] (Sid "Oops"): Condition.StringEqualz`) {
		t.Errorf("policy validate bad.json: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	// From stdin, as JSON for a tool.
	var res struct {
		Valid    bool
		Problems []struct {
			Statement int
			Sid       string
			Element   string
		}
	}
	out, _, code = run1(string(readFile(t, bad)), "--output", "json", "policy", "validate", "-")
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != exitArgument || res.Valid || len(res.Problems) != 2 ||
		res.Problems[0].Statement != 1 || res.Problems[0].Sid != "Oops" || res.Problems[0].Element != "Effect" {
		t.Errorf("policy validate --output json: exit %d, %s (%v)", code, out, err)
	}
	out, _, code = run1("{", "policy", "validate", "-")
	if code != exitArgument || !strings.HasPrefix(out, "-: ") {
		t.Errorf("policy validate on broken JSON: exit %d, %q", code, out)
	}
	if _, errOut, code := run1("", "policy", "validate", filepath.Join(dir, "missing.json")); code != exitUsage || !strings.HasPrefix(errOut, "keygate: FILE: ") {
		t.Errorf("policy validate on a missing file: exit %d, %q", code, errOut)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testRawSecret: a KEY_AGREEMENT key created with --allow-raw-shared-secret
// gives derive --kdf RAW the ECDH secret itself.
func testRawSecret(t *testing.T, c *cli) {
	c.create(harness.OpenPolicy(), "keys", "create", "cli-raw-ecdh", "--key-spec", "ECC_NIST_P256", "--key-usage", "KEY_AGREEMENT",
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
