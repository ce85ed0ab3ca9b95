package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/audit/reconcile"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/kmsserver"
)

// kmsEnv is a keygated with a KMS backend "kms" on a test KMS whose clock
// the test moves.
func kmsEnv(t *testing.T, extraConfig string) (*harness.Env, *kmsserver.Server, *atomic.Int64) {
	t.Helper()
	srv := kmsserver.New(t)
	srv.SetPrincipal(kmsserver.TestAccessKeyID, keygatedRole)
	var skew atomic.Int64
	srv.SetClock(func() time.Time { return time.Now().UTC().Add(time.Duration(skew.Load())) })
	t.Setenv("AWS_ACCESS_KEY_ID", kmsserver.TestAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", kmsserver.TestSecretAccessKey)
	t.Setenv("AWS_REGION", srv.Region)
	env := harness.Start(t, harness.Options{ExtraConfig: extraConfig, ExtraBackends: `
  - name: kms
    type: kms
    config: {region: ` + srv.Region + `, endpoint: "` + srv.URL + `"}
`})
	return env, srv, &skew
}

// TestCLIImportKMS is the README's BYOK walkthrough on a KMS key: the same
// verbs and openssl commands as on PKCS#11, KMS's own import underneath.
// A known HMAC key comes in and MACs as itself; KMS's refusals (material
// of the wrong size, its own token expired) name the field and change
// nothing; a used token is refused; an EC P-256 private key made by
// openssl comes in as PKCS#8 and signs what openssl verifies with the
// public key it knew.
func TestCLIImportKMS(t *testing.T) {
	env, srv, skew := kmsEnv(t, "")
	c := newCLI(t, env, "admin")
	policy := c.file("p.json", []byte(harness.OpenPolicy()))
	c.create("", "keys", "create", "cavv-key", "--backend", "kms", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC", "--policy-file", policy)
	pub := c.path("WrappingPublicKey.der")
	params := func(name, v string) string {
		t.Helper()
		out := c.ok("", "keys", "import-params", name, "--version", v, "--public-key-out", pub, "--import-token-out", c.path("ImportToken.txt"))
		if !strings.Contains(out, "RSA_AES_KEY_WRAP_SHA_256") {
			t.Fatalf("keys import-params:\n%s", out)
		}
		return c.path("ImportToken.txt")
	}
	unchanged := func() {
		t.Helper()
		if out := c.ok("", "keys", "describe", "cavv-key"); strings.Contains(out, "EXTERNAL") || !strings.Contains(out, "Primary version:  1") {
			t.Fatalf("a refused import changed the key:\n%s", out)
		}
	}
	known := make([]byte, 32)
	rand.Read(known)
	tok := params("cavv-key", "2")
	if len(srv.Records()) == 0 || srv.Records()[len(srv.Records())-1].EventName != "GetParametersForImport" {
		t.Fatal("import-params did not ask KMS for import parameters")
	}
	c.fails(exitArgument, "keygate: InvalidArgument: encrypted_key_material: not a HMAC_256 key", "",
		"keys", "import", "cavv-key", "--version", "2", "--material-file", wrap(t, c.dir, known[:16], "sha256"), "--import-token-file", tok)
	unchanged()
	// KMS's token expires by KMS's clock, whatever keygate's says.
	good := wrap(t, c.dir, known, "sha256")
	skew.Store(int64(25 * time.Hour))
	c.fails(exitArgument, "keygate: InvalidArgument: import_token: KMS's import token has expired", "",
		"keys", "import", "cavv-key", "--version", "2", "--material-file", good, "--import-token-file", tok)
	skew.Store(0)
	unchanged()

	tok = params("cavv-key", "2")
	good = wrap(t, c.dir, known, "sha256")
	out := c.ok("", "keys", "import", "cavv-key", "--version", "2", "--material-file", good, "--import-token-file", tok)
	if !strings.Contains(out, "cavv-key: v2 (new) -> ACTIVE; v1 ACTIVE -> RETIRED") || !strings.Contains(out, "EXTERNAL") {
		t.Fatalf("keys import:\n%s", out)
	}
	c.fails(exitArgument, "keygate: InvalidArgument: ", "", // used: version 2 is made
		"keys", "import", "cavv-key", "--version", "2", "--material-file", good, "--import-token-file", tok)
	msg := []byte("authentication value input")
	c.ok("", "mac", "cavv-key", "--message-file", c.file("m", msg), "--out", c.path("mac"))
	want := hmac.New(sha256.New, known)
	want.Write(msg)
	if !hmac.Equal(c.readFile(c.path("mac")), want.Sum(nil)) {
		t.Fatal("the imported KMS key's MAC is not the known key's")
	}
	var imported bool
	for _, r := range srv.Records() {
		imported = imported || r.EventName == "ImportKeyMaterial" && r.ErrorCode == "" && r.UserIdentity.ARN == keygatedRole
	}
	if !imported {
		t.Fatal("CloudTrail has no successful ImportKeyMaterial by keygated")
	}

	// An EC private key, as an old HSM's exported by openssl.
	c.create("", "keys", "create", "acs-kms", "--backend", "kms", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY", "--policy-file", policy)
	c.oldKey("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")
	tok = params("acs-kms", "2")
	out = c.ok("", "keys", "import", "acs-kms", "--version", "2", "--material-file", wrap(t, c.dir, c.readFile(c.path("old-key.p8")), "sha256"),
		"--import-token-file", tok)
	if !strings.Contains(out, "v2 (new) -> PENDING_ACTIVATION") {
		t.Fatalf("keys import:\n%s", out)
	}
	c.ok("", "keys", "activate", "acs-kms", "--version", "2")
	c.ok("", "sign", "acs-kms", "--message-file", c.file("content", []byte("acsSignedContent")), "--algorithm", "ECDSA_SHA_256", "--out", c.path("sig"))
	c.openssl("dgst", "-sha256", "-verify", "old-pub.pem", "-signature", "sig", "content")
	if pub := c.ok("", "keys", "public-key", "acs-kms", "--version", "2"); pub != string(c.readFile(c.path("old-pub.pem"))) {
		t.Fatalf("version 2's public key is not the imported one:\n%s", pub)
	}

	// CloudTrail and keygate's log agree on every import call: the
	// parameters, the import, and the key made for the import.
	srv.SetLookupLimiter(nil)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", srv.URL)
	out, errOut, code := c.run("", "--output", "json", "audit", "reconcile", "--since", "1h", "--lookup", "--delivery-delay", "1ms")
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Findings) != 0 {
		t.Fatalf("audit reconcile: exit %d %s\n%s", code, errOut, out)
	}
}
