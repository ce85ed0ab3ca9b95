package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// cli runs the real CLI code path in-process against a harness server.
type cli struct {
	t    *testing.T
	env  *harness.Env
	base []string // the global flags: address and the identity's files
	dir  string
}

func newCLI(t *testing.T, env *harness.Env, identity string) *cli {
	ca, cert, key := env.TLSFiles(identity)
	return &cli{t: t, env: env, base: []string{"--addr", env.Addr, "--ca", ca, "--cert", cert, "--client-key", key}, dir: t.TempDir()}
}

// run runs keygate with stdin and args after the global flags.
func (c *cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	var out, errb bytes.Buffer
	code = run(append(append([]string{}, c.base...), args...), strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs keygate and fails the test unless it exits 0.
func (c *cli) ok(stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(stdin, args...)
	if code != 0 {
		c.t.Fatalf("keygate %s: exit %d: %s%s", strings.Join(args, " "), code, errOut, out)
	}
	return out
}

// create runs keygate keys create … as ok does; when the key's policy
// grants the CLI's identity use of it, the creation waits for a second
// admin, and admin2 approves it as an operator would (`keygate approvals
// approve ID`): the approval's output, with the key, is returned.
func (c *cli) create(stdin string, args ...string) string {
	c.t.Helper()
	out := c.ok(stdin, args...)
	_, rest, held := strings.Cut(out, "keygate approvals approve ")
	if !held {
		return out
	}
	id, _, _ := strings.Cut(rest, "\n")
	return newCLI(c.t, c.env, "admin2").ok("", "approvals", "approve", strings.TrimSpace(id))
}

// fails runs keygate and checks the exit code and the stderr prefix.
func (c *cli) fails(wantCode int, wantStderr string, stdin string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(stdin, args...)
	if code != wantCode || !strings.HasPrefix(errOut, wantStderr) {
		c.t.Fatalf("keygate %s: exit %d, stderr %q; want exit %d, stderr starting %q",
			strings.Join(args, " "), code, errOut, wantCode, wantStderr)
	}
	return out
}

// file writes b to a fresh file in the test's directory and returns its path.
func (c *cli) file(name string, b []byte) string {
	c.t.Helper()
	p := filepath.Join(c.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (c *cli) path(name string) string { return filepath.Join(c.dir, name) }

// openssl runs openssl in the CLI's directory, failing the test if it does.
func (c *cli) openssl(args ...string) {
	c.t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("openssl %v: %v\n%s", args, err, out)
	}
}

// oldKey has openssl make a private key with genpkey (args), as an old
// HSM's exported key: old-key.pem, its public key old-pub.pem, and the
// unencrypted PKCS#8 DER old-key.p8 that an import wraps.
func (c *cli) oldKey(genpkey ...string) {
	c.t.Helper()
	c.openssl(append(genpkey, "-out", "old-key.pem")...)
	c.openssl("pkey", "-in", "old-key.pem", "-pubout", "-out", "old-pub.pem")
	c.openssl("pkcs8", "-topk8", "-nocrypt", "-in", "old-key.pem", "-outform", "DER", "-out", "old-key.p8")
}

func (c *cli) readFile(p string) []byte {
	c.t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		c.t.Fatal(err)
	}
	return b
}

// TestCLI starts one keygated (SoftHSM token, mTLS) and drives every verb
// through run, as an operator would.
func TestCLI(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	for _, k := range [][3]string{
		{"acs-signing", "ECC_NIST_P256", "SIGN_VERIFY"},
		{"acs-signing-rsa", "RSA_2048", "SIGN_VERIFY"},
		{"acs-signing-384", "ECC_NIST_P384", "SIGN_VERIFY"},
		{"data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"},
		{"ds-enc", "RSA_2048", "ENCRYPT_DECRYPT"},
		{"av-mac", "HMAC_256", "GENERATE_VERIFY_MAC"},
		{"ds-ecdh", "ECC_NIST_P256", "KEY_AGREEMENT"},
		{"3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"},
	} {
		env.CreateKey(k[0], k[1], k[2])
	}
	for name, test := range map[string]func(*testing.T, *cli){
		"keys": testKeys, "sign": testSign, "openssl": testOpenSSL, "encrypt": testEncrypt,
		"datakey": testDataKey, "mac": testMac, "derive": testDerive, "errors": testErrors,
		"policy": testPolicy, "rawsecret": testRawSecret, "audit": testAudit, "3ds": test3DS,
	} {
		t.Run(name, func(t *testing.T) { test(t, newCLI(t, env, "admin")) })
	}
	t.Run("refused", func(t *testing.T) { testRefused(t, env) })
	t.Run("env", func(t *testing.T) { testEnvDefaults(t, env) })
	t.Run("deprecated", func(t *testing.T) { testDeprecatedKeyFlags(t, env) })
}

// testDeprecatedKeyFlags: --key still works in both old meanings, each
// with one line saying what to type instead.
func testDeprecatedKeyFlags(t *testing.T, env *harness.Env) {
	ca, cert, key := env.TLSFiles("admin")
	var out, errb bytes.Buffer
	code := run([]string{"--addr", env.Addr, "--ca", ca, "--cert", cert, "--key", key, "keys", "public-key", "acs-signing"},
		nil, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "BEGIN PUBLIC KEY") ||
		errb.String() != "keygate: --key FILE is deprecated: use --client-key FILE (or KEYGATE_KEY)\n" {
		t.Fatalf("--key FILE before the verb: exit %d, stderr %q", code, errb.String())
	}
	c := newCLI(t, env, "admin")
	stdout, stderr, code := c.run("", "--output", "json", "audit", "events", "--key", "acs-signing", "--limit", "1")
	if code != 0 || !strings.Contains(stdout, "acs-signing") ||
		stderr != "keygate: audit events --key NAME is deprecated: use --key-id NAME or the positional NAME\n" {
		t.Fatalf("audit events --key NAME: exit %d, stderr %q", code, stderr)
	}
	if _, stderr, code := c.run("", "audit", "events", "--key-id", "acs-signing", "--limit", "1"); code != 0 || stderr != "" {
		t.Fatalf("audit events --key-id: exit %d, stderr %q", code, stderr)
	}
}
