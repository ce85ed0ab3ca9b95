package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
)

func testKeys(t *testing.T, c *cli) {
	out := c.create("", "keys", "create", "cli-ec", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY",
		"--description", "made by the CLI test")
	for _, want := range []string{"Name:", "cli-ec", "ECC_NIST_P256", "made by the CLI test", "ACTIVE"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys create table lacks %q:\n%s", want, out)
		}
	}

	// Flags before the verb, JSON output.
	c.base = append(c.base, "--output", "json")
	var k struct {
		KeyID    string `json:"key_id"`
		KeySpec  string `json:"key_spec"`
		KeyUsage string `json:"key_usage"`
		KeyState string `json:"key_state"`
		Versions []struct {
			Version      int    `json:"version"`
			State        string `json:"state"`
			BackendKeyID string `json:"backend_key_id"`
		} `json:"versions"`
	}
	decode(t, c.create("", "keys", "create", "cli-hmac", "--key-spec", "HMAC_384", "--key-usage", "GENERATE_VERIFY_MAC"), &k)
	if k.KeyID != "cli-hmac" || k.KeySpec != "HMAC_384" || k.KeyUsage != "GENERATE_VERIFY_MAC" || len(k.Versions) != 1 || k.Versions[0].BackendKeyID == "" {
		t.Errorf("keys create --output json = %+v", k)
	}
	decode(t, c.ok("", "keys", "describe", "cli-ec"), &k)
	if k.KeyID != "cli-ec" || k.KeySpec != "ECC_NIST_P256" || k.KeyState != "ENABLED" || k.Versions[0].State != "ACTIVE" {
		t.Errorf("keys describe --output json = %+v", k)
	}

	// A page size of 1 makes list walk one page per key.
	var list struct {
		Keys []struct {
			KeyID string `json:"key_id"`
		} `json:"keys"`
	}
	decode(t, c.ok("", "keys", "list", "--page-size", "1"), &list)
	seen := map[string]int{}
	for _, k := range list.Keys {
		seen[k.KeyID]++
	}
	for _, name := range []string{"acs-signing", "acs-signing-rsa", "acs-signing-384", "data-key", "ds-enc", "av-mac", "ds-ecdh", "cli-ec", "cli-hmac"} {
		if seen[name] != 1 {
			t.Errorf("keys list --page-size 1: %s listed %d times", name, seen[name])
		}
	}
	if len(list.Keys) != len(seen) {
		t.Errorf("keys list: %d entries for %d keys", len(list.Keys), len(seen))
	}
	c.base = c.base[:len(c.base)-2]
	out = c.ok("", "keys", "list")
	if !strings.HasPrefix(out, "NAME") || !strings.Contains(out, "cli-hmac") || !strings.Contains(out, "HMAC_384") {
		t.Errorf("keys list table:\n%s", out)
	}

	// public-key prints a PEM SubjectPublicKeyInfo of the key's curve. Keys
	// made above have the default policy, which gives admin no data-plane
	// use: the rest runs on a key the harness made with an open policy.
	block, rest := pem.Decode([]byte(c.ok("", "keys", "public-key", "acs-signing-384")))
	if block == nil || block.Type != "PUBLIC KEY" || len(rest) != 0 {
		t.Fatalf("keys public-key: not one PUBLIC KEY PEM block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if ec, ok := pub.(*ecdsa.PublicKey); err != nil || !ok || ec.Curve != elliptic.P384() {
		t.Errorf("keys public-key: %T %v, want a P-384 ECDSA key", pub, err)
	}
	c.ok("", "keys", "public-key", "acs-signing-384", "--version", "1", "--out", c.path("pub.pem"))
	if string(c.readFile(c.path("pub.pem"))) != string(pem.EncodeToMemory(block)) {
		t.Error("keys public-key --out wrote something else than stdout shows")
	}
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "keys", "public-key", "data-key")

	// A disabled key refuses operations until it is enabled again.
	msg := c.file("m", []byte("hello"))
	for _, name := range []string{"cli-ec", "acs-signing-384"} {
		if out := c.ok("", "keys", "disable", name); !strings.Contains(out, "DISABLED") {
			t.Errorf("keys disable %s:\n%s", name, out)
		}
	}
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "sign", "acs-signing-384", "--message-file", msg)
	for _, name := range []string{"cli-ec", "acs-signing-384"} {
		if out := c.ok("", "keys", "enable", name); !strings.Contains(out, "ENABLED") {
			t.Errorf("keys enable %s:\n%s", name, out)
		}
	}
	c.ok("", "sign", "acs-signing-384", "--message-file", msg, "--algorithm", "ECDSA_SHA_384")

	c.fails(exitState, "keygate: AlreadyExists: ", "", "keys", "create", "cli-ec", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY")
	c.fails(exitArgument, "keygate: InvalidArgument: ", "", "keys", "create", "cli-bad", "--key-spec", "ECC_NIST_P256", "--key-usage", "ENCRYPT_DECRYPT")
	c.fails(exitUsage, "keygate: --key-spec and --key-usage are required", "", "keys", "create", "cli-bad")
	c.fails(exitNotFound, `keygate: NotFound: `, "", "keys", "describe", "no-such-key")
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
}
