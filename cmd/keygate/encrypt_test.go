package main

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
)

func testEncrypt(t *testing.T, c *cli) {
	secret := []byte("4111111111111111, exp 12/29")
	pt := c.file("pt", secret)
	ct := c.path("ct")
	ctx := []string{"--encryption-context", "tenant=acme,eu", "--encryption-context", "purpose=pan=at-rest"}
	c.ok("", append([]string{"encrypt", "data-key", "--plaintext-file", pt, "--out", ct}, ctx...)...)
	if bytes.Contains(c.readFile(ct), secret) {
		t.Fatal("the ciphertext holds the plaintext")
	}
	if out := c.ok("", append([]string{"decrypt", "--ciphertext-file", ct, "--out", "-"}, ctx...)...); out != string(secret) {
		t.Errorf("decrypt --out - = %q, want %q", out, secret)
	}
	out := c.ok("", append([]string{"decrypt", "--ciphertext-file", ct, "--key-id", "data-key"}, ctx...)...)
	if !bytes.Equal(b64(t, out), secret) {
		t.Errorf("decrypt base64 = %q", out)
	}

	// The wrong, a partial or no context; another key; a flipped bit.
	for _, args := range [][]string{
		{"--encryption-context", "tenant=acme,eu", "--encryption-context", "purpose=pan"},
		{"--encryption-context", "tenant=acme,eu"},
		{},
		append([]string{"--key-id", "ds-enc"}, ctx...),
	} {
		c.fails(exitArgument, "keygate: InvalidArgument: ", "", append([]string{"decrypt", "--ciphertext-file", ct}, args...)...)
	}
	tampered := c.readFile(ct)
	tampered[len(tampered)-1] ^= 1
	c.fails(exitArgument, "keygate: InvalidArgument: ", string(tampered), append([]string{"decrypt", "--ciphertext-file", "-"}, ctx...)...)

	// RSA-OAEP, plaintext from stdin, JSON out.
	var enc struct {
		Blob string `json:"ciphertext_blob"`
		Alg  string `json:"encryption_algorithm"`
	}
	decode(t, c.ok(string(secret), "--output", "json", "encrypt", "ds-enc", "--plaintext-file", "-", "--algorithm", "RSAES_OAEP_SHA_256"), &enc)
	blob, err := base64.StdEncoding.DecodeString(enc.Blob)
	if err != nil || enc.Alg != "RSAES_OAEP_SHA_256" {
		t.Fatalf("encrypt --output json: %+v, %v", enc, err)
	}
	var dec struct {
		Plaintext string `json:"plaintext"`
		KeyID     string `json:"key_id"`
	}
	decode(t, c.ok(string(blob), "--output", "json", "decrypt", "--ciphertext-file", "-"), &dec)
	if dec.KeyID != "ds-enc" || dec.Plaintext != base64.StdEncoding.EncodeToString(secret) {
		t.Errorf("decrypt --output json = %+v", dec)
	}

	// A context value may be card data: a refused one is not echoed.
	c.fails(exitUsage, "keygate: invalid value for flag -encryption-context: want key=value;", "", "encrypt", "data-key", "--plaintext-file", pt, "--encryption-context", "novalue")
	c.fails(exitUsage, "keygate: --out - and --output json both write stdout", "", "--output", "json", "encrypt", "data-key", "--plaintext-file", pt, "--out", "-")
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "encrypt", "acs-signing", "--plaintext-file", pt)
}

func testDataKey(t *testing.T, c *cli) {
	ctx := []string{"--encryption-context", "record=42"}
	ct, key := c.path("dk.ct"), c.path("dk.key")
	out := c.ok("", append([]string{"generate-data-key", "data-key", "--out", ct, "--plaintext-out", key}, ctx...)...)
	if !strings.Contains(out, "written to "+ct) || strings.Contains(out, base64.StdEncoding.EncodeToString(c.readFile(key))) {
		t.Errorf("generate-data-key with files printed:\n%s", out)
	}
	if k := c.readFile(key); len(k) != 32 {
		t.Fatalf("AES_256 data key is %d bytes", len(k))
	}
	if got := c.ok("", append([]string{"decrypt", "--ciphertext-file", ct, "--out", "-"}, ctx...)...); got != string(c.readFile(key)) {
		t.Error("the data key's ciphertext does not decrypt to its plaintext")
	}

	// JSON with both in base64, AES_128; and --number-of-bytes.
	var dk struct {
		Blob      string `json:"ciphertext_blob"`
		Plaintext string `json:"plaintext"`
	}
	decode(t, c.ok("", append([]string{"--output", "json", "generate-data-key", "data-key", "--key-spec", "AES_128"}, ctx...)...), &dk)
	blob, _ := base64.StdEncoding.DecodeString(dk.Blob)
	plain, _ := base64.StdEncoding.DecodeString(dk.Plaintext)
	if len(plain) != 16 || len(blob) == 0 {
		t.Fatalf("generate-data-key --output json: %+v", dk)
	}
	if got := c.ok(string(blob), append([]string{"decrypt", "--ciphertext-file", "-", "--out", "-"}, ctx...)...); got != string(plain) {
		t.Error("AES_128 data key ciphertext does not decrypt to its plaintext")
	}
	var files map[string]any
	decode(t, c.ok("", "--output", "json", "generate-data-key", "data-key", "--number-of-bytes", "48", "--plaintext-out", key), &files)
	if files["plaintext_file"] != key || files["plaintext"] != nil || len(c.readFile(key)) != 48 {
		t.Errorf("generate-data-key --number-of-bytes 48 --plaintext-out: %v, %d bytes", files, len(c.readFile(key)))
	}
	c.fails(exitArgument, "keygate: InvalidArgument: ", "", "generate-data-key", "data-key", "--key-spec", "AES_128", "--number-of-bytes", "16")
}
