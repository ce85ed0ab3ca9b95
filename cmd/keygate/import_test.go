package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// wrapScript is the README's "Importing key material" commands, run as
// they are written there: the material under an ephemeral AES key (RFC
// 5649), that key under the wrapping public key with OAEP.
const wrapScript = `set -e
openssl rand -out aes-key.bin 32
openssl enc -id-aes256-wrap-pad -K "$(od -An -v -tx1 aes-key.bin | tr -d ' \n')" -iv A65959A6 -in material.bin -out material.aes-wrapped
openssl pkeyutl -encrypt -pubin -inkey WrappingPublicKey.der -keyform DER -in aes-key.bin -out aes-key.wrapped \
  -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:$MD -pkeyopt rsa_mgf1_md:$MD
cat aes-key.wrapped material.aes-wrapped > material.wrapped
rm aes-key.bin
`

// wrap runs wrapScript in dir, where WrappingPublicKey.der is, on material.
func wrap(t *testing.T, dir string, material []byte, md string) string {
	t.Helper()
	if err := os.WriteFile(dir+"/material.bin", material, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", wrapScript)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "MD="+md)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wrapping with openssl: %v\n%s", err, out)
	}
	return dir + "/material.wrapped"
}

// TestCLIImport brings a known AES key into SoftHSM the way the README
// says: import-params, openssl, import. The imported version encrypts what
// the known key opens; bad material, a token for another version, a used
// token and an expired one are refused and change nothing; kms:KeyOrigin
// is EXTERNAL afterwards.
func TestCLIImport(t *testing.T) {
	var off atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	env := harness.Start(t, harness.Options{ServerOptions: server.Options{Now: now}})
	c, acs := newCLI(t, env, "admin"), newCLI(t, env, "acs")
	policy := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "Services", Principals: []string{harness.ARN("acs")}, Actions: harness.DataActions},
		harness.Statement{Sid: "NoImportedMaterial", Deny: true, Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Encrypt"},
			Condition: map[string]map[string]any{"StringEquals": {"kms:KeyOrigin": "EXTERNAL"}}},
	)
	c.create("", "keys", "create", "data-key", "--key-spec", "SYMMETRIC_DEFAULT", "--key-usage", "ENCRYPT_DECRYPT",
		"--policy-file", c.file("p.json", []byte(policy)))
	pan := c.file("pan", []byte("4111111111111111"))
	acs.ok("", "encrypt", "data-key", "--plaintext-file", pan, "--out", c.path("ct1"))

	// SoftHSM 2.6 unwraps with OAEP SHA-1 only: the default is refused,
	// naming the mechanism.
	pub := c.path("WrappingPublicKey.der")
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "keys", "import-params", "data-key", "--public-key-out", pub)
	c.fails(exitArgument, "keygate: InvalidArgument: ", "", "keys", "import-params", "data-key", "--version", "3",
		"--wrapping-algorithm", "RSA_AES_KEY_WRAP_SHA_1", "--public-key-out", pub)
	params := func(v string) string {
		t.Helper()
		// An RSA 3072 wrapping key is made in the token: under -race on a
		// loaded machine that outlasts the CLI's default 10s deadline.
		out := c.ok("", "--timeout", "5m", "keys", "import-params", "data-key", "--version", v, "--wrapping-algorithm", "RSA_AES_KEY_WRAP_SHA_1",
			"--public-key-out", pub, "--import-token-out", c.path("ImportToken.txt"))
		if !strings.Contains(out, "version:            "+v) || !strings.Contains(out, "RSA_AES_KEY_WRAP_SHA_1") {
			t.Fatalf("keys import-params:\n%s", out)
		}
		return c.path("ImportToken.txt")
	}
	unchanged := func() {
		t.Helper()
		if out := c.ok("", "keys", "describe", "data-key"); strings.Contains(out, "EXTERNAL") || !strings.Contains(out, "Primary version:  1") {
			t.Fatalf("a refused import changed the key:\n%s", out)
		}
	}

	known := make([]byte, 32)
	rand.Read(known)
	tok := params("2")
	// A 16-byte key is not SYMMETRIC_DEFAULT.
	short := wrap(t, c.dir, known[:16], "sha1")
	c.fails(exitArgument, "keygate: InvalidArgument: key material is not a SYMMETRIC_DEFAULT key", "",
		"keys", "import", "data-key", "--version", "2", "--material-file", short, "--import-token-file", tok)
	unchanged()
	good := wrap(t, c.dir, known, "sha1")
	// The token names version 2 of data-key, nothing else.
	c.fails(exitArgument, "keygate: InvalidArgument: import_token was not issued", "",
		"keys", "import", "data-key", "--version", "3", "--material-file", good, "--import-token-file", tok)
	c.fails(exitArgument, "keygate: InvalidArgument: import_token is not", "",
		"keys", "import", "data-key", "--version", "2", "--material-file", good, "--import-token", "bm90IGEgdG9rZW4")
	unchanged()

	out := c.ok("", "keys", "import", "data-key", "--version", "2", "--material-file", good, "--import-token-file", tok)
	if !strings.Contains(out, "data-key: v2 (new) -> ACTIVE; v1 ACTIVE -> RETIRED") || !strings.Contains(out, "EXTERNAL") {
		t.Fatalf("keys import:\n%s", out)
	}
	// Used once: the wrapping key is gone.
	c.fails(exitArgument, "keygate: InvalidArgument: ", "", "keys", "import", "data-key", "--version", "2", "--material-file", good, "--import-token-file", tok)

	// What v2 encrypts, the known key opens; what v1 made still decrypts.
	c.ok("", "encrypt", "data-key", "--plaintext-file", pan, "--out", c.path("ct2"))
	ct, err := keys.ParseCiphertext(c.readFile(c.path("ct2")))
	if err != nil || ct.Version != 2 {
		t.Fatalf("ciphertext of version %d, %v", ct.Version, err)
	}
	block, _ := aes.NewCipher(known)
	gcm, _ := cipher.NewGCM(block)
	const ivSize = 12 // the PKCS#11 backend's blob: IV, then ciphertext and tag
	if pt, err := gcm.Open(nil, ct.Blob[:ivSize], ct.Blob[ivSize:], backends.ContextAAD(ct.Context(nil))); err != nil || string(pt) != "4111111111111111" {
		t.Fatalf("the known key opens %q, %v", pt, err)
	}
	if pt := c.ok("", "decrypt", "--ciphertext-file", c.path("ct1"), "--out", "-"); pt != "4111111111111111" {
		t.Fatalf("v1's ciphertext decrypts to %q", pt)
	}
	// kms:KeyOrigin is EXTERNAL now: acs's encryptions are denied.
	acs.fails(exitDenied, "", "", "encrypt", "data-key", "--plaintext-file", pan, "--out", c.path("ct3"))
	// keys describe shows each version's origin and what the token says
	// of it: v2 was unwrapped into the token, never generated there.
	out = c.ok("", "keys", "describe", "data-key")
	for _, row := range []string{`(?m)^VERSION\s+ORIGIN\s+CKA_LOCAL\s+CKA_NEVER_EXTRACTABLE\s+CKA_ALWAYS_SENSITIVE$`,
		`(?m)^1\s+GENERATED\s+true\s+true\s+true$`, `(?m)^2\s+EXTERNAL\s+false\s+false\s+false$`} {
		if !regexp.MustCompile(row).MatchString(out) {
			t.Errorf("keys describe lacks %s:\n%s", row, out)
		}
	}
	out = c.ok("", "--output", "json", "keys", "describe", "data-key")
	if !strings.Contains(out, `"origin": "EXTERNAL",`) || !strings.Contains(out, `"token_attributes": {
        "always_sensitive": false,
        "local": false,
        "never_extractable": false
      }`) {
		t.Errorf("keys describe --output json:\n%s", out)
	}

	// An import token expires after 24 hours (the test's clock).
	tok = params("3")
	if !strings.Contains(c.ok("", "keys", "describe", "data-key"), "Primary version:  2") {
		t.Fatal("import-params changed the key")
	}
	good = wrap(t, c.dir, known, "sha1")
	off.Store(int64(24*time.Hour + time.Minute))
	c.fails(exitArgument, "keygate: InvalidArgument: import_token expired", "",
		"keys", "import", "data-key", "--version", "3", "--material-file", good, "--import-token-file", tok)
	// A token edited to expire later names no wrapping key: the wrapping
	// key's label in the token holds the real expiry.
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(string(c.readFile(tok))))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	fields["e"] = fields["e"].(float64) + 2*86400
	raw, _ = json.Marshal(fields)
	c.fails(exitArgument, "keygate: InvalidArgument: import_token names no current wrapping key", "",
		"keys", "import", "data-key", "--version", "3", "--material-file", good, "--import-token", base64.RawURLEncoding.EncodeToString(raw))
	if out := c.ok("", "keys", "describe", "data-key"); !strings.Contains(out, "Primary version:  2") {
		t.Fatalf("a refused import changed the key:\n%s", out)
	}
}

// TestCLIImportPrivateKey imports an RSA private key made by openssl (as
// an old HSM's key exported as PKCS#8): the new version waits in
// PENDING_ACTIVATION, then signs what openssl verifies with the public key
// it knew all along.
func TestCLIImportPrivateKey(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	c := newCLI(t, env, "admin")
	c.create("", "keys", "create", "legacy-sign", "--key-spec", "RSA_2048", "--key-usage", "SIGN_VERIFY",
		"--policy-file", c.file("p.json", []byte(harness.OpenPolicy())))
	c.oldKey("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048")

	c.ok("", "--timeout", "5m", "keys", "import-params", "legacy-sign", "--wrapping-algorithm", "RSA_AES_KEY_WRAP_SHA_1",
		"--public-key-out", c.path("WrappingPublicKey.der"), "--import-token-out", c.path("tok"))
	wrapped := wrap(t, c.dir, c.readFile(c.path("old-key.p8")), "sha1")
	out := c.ok("", "keys", "import", "legacy-sign", "--version", "2", "--material-file", wrapped, "--import-token-file", c.path("tok"))
	if !strings.Contains(out, "v2 (new) -> PENDING_ACTIVATION") {
		t.Fatalf("keys import:\n%s", out)
	}
	c.ok("", "keys", "activate", "legacy-sign", "--version", "2")
	m := c.file("m", []byte("signed by the imported key"))
	c.ok("", "sign", "legacy-sign", "--message-file", m, "--algorithm", "RSASSA_PKCS1_V1_5_SHA_256", "--out", c.path("sig"))
	c.openssl("dgst", "-sha256", "-verify", "old-pub.pem", "-signature", "sig", "m")
	if pub := c.ok("", "keys", "public-key", "legacy-sign", "--version", "2"); pub != string(c.readFile(c.path("old-pub.pem"))) {
		t.Fatalf("version 2's public key is not the imported one:\n%s", pub)
	}
}

// TestCLIImportECKey imports an EC P-256 private key made by openssl into
// SoftHSM: keygate derives its public key (the token gives none), which is
// openssl's, and openssl verifies what the imported key signs.
func TestCLIImportECKey(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	c := newCLI(t, env, "admin")
	c.create("", "keys", "create", "acs-legacy", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY",
		"--policy-file", c.file("p.json", []byte(harness.OpenPolicy())))
	c.oldKey("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256")

	c.ok("", "keys", "import-params", "acs-legacy", "--wrapping-algorithm", "RSA_AES_KEY_WRAP_SHA_1",
		"--public-key-out", c.path("WrappingPublicKey.der"), "--import-token-out", c.path("tok"))
	out := c.ok("", "keys", "import", "acs-legacy", "--version", "2", "--material-file", wrap(t, c.dir, c.readFile(c.path("old-key.p8")), "sha1"),
		"--import-token-file", c.path("tok"))
	if !strings.Contains(out, "v2 (new) -> PENDING_ACTIVATION") {
		t.Fatalf("keys import:\n%s", out)
	}
	c.ok("", "keys", "activate", "acs-legacy", "--version", "2")
	if pub := c.ok("", "keys", "public-key", "acs-legacy", "--version", "2"); pub != string(c.readFile(c.path("old-pub.pem"))) {
		t.Fatalf("version 2's public key is not the imported one:\n%s", pub)
	}
	c.ok("", "sign", "acs-legacy", "--message-file", c.file("m", []byte("acsSignedContent")), "--algorithm", "ECDSA_SHA_256", "--out", c.path("sig"))
	c.openssl("dgst", "-sha256", "-verify", "old-pub.pem", "-signature", "sig", "m")
}
