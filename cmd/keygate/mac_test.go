package main

import (
	"bytes"
	"testing"
)

func testMac(t *testing.T, c *cli) {
	m := c.file("m", []byte("CAVV input 0123456789"))
	raw := c.path("mac")
	c.ok("", "mac", "av-mac", "--message-file", m, "--out", raw)
	mac := c.readFile(raw)
	if len(mac) != 32 {
		t.Fatalf("HMAC_SHA_256 is %d bytes", len(mac))
	}
	// Deterministic, and base64 on stdout without --out.
	if got := b64(t, c.ok("", "mac", "av-mac", "--message-file", m, "--algorithm", "HMAC_SHA_256")); !bytes.Equal(got, mac) {
		t.Error("the same message gave another MAC")
	}
	if out := c.ok("", "verify-mac", "av-mac", "--message-file", m, "--mac-file", raw); out != "valid\n" {
		t.Errorf("verify-mac of a good MAC printed %q", out)
	}
	mac[0] ^= 1
	if out := c.fails(exitInvalid, "", string(mac), "verify-mac", "av-mac", "--message-file", m, "--mac-file", "-"); out != "invalid\n" {
		t.Errorf("verify-mac of a bad MAC printed %q", out)
	}
	c.fails(exitState, "keygate: FailedPrecondition: ", "", "mac", "acs-signing", "--message-file", m)
	c.fails(exitUsage, "keygate: --mac-file is required", "", "verify-mac", "av-mac", "--message-file", m)
}
