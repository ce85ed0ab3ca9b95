package main

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// Issue 16, finding 4, through `keys create`: a new key whose policy grants
// its creator use of it prints a pending approval and creates nothing; a
// different admin approves it with `approvals approve`.
func TestKeysCreateGrantingItsCreatorWaits(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	admin, admin2 := newCLI(t, env, "admin"), newCLI(t, env, "admin2")
	self := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: harness.AdminActions},
		harness.Statement{Sid: "AdminMacs", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:GenerateMac"}})
	out := admin.ok(self, "keys", "create", "issuer-cavv", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC", "--policy-file", "-")
	_, rest, held := strings.Cut(out, "keygate approvals approve ")
	if !held || !strings.Contains(out, "CreateKey") || !strings.Contains(out, "kms:GenerateMac") {
		t.Fatalf("keys create granting its creator GenerateMac:\n%s", out)
	}
	id := strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])
	admin.fails(exitNotFound, "keygate: NotFound: ", "", "keys", "describe", "issuer-cavv")
	admin.fails(exitState, "keygate: FailedPrecondition: ", "", "approvals", "approve", id)
	if out := admin2.ok("", "approvals", "approve", id); !strings.Contains(out, "APPROVED") || !strings.Contains(out, "issuer-cavv") {
		t.Fatalf("admin2 approvals approve:\n%s", out)
	}
	admin.ok("", "mac", "issuer-cavv", "--message-file", admin.file("m", []byte("m")))

	// A key whose policy grants its creator no use is made at once.
	out = admin.ok("", "--output", "json", "keys", "create", "plain", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC")
	if strings.Contains(out, "pending_approval") || !strings.Contains(out, `"key_id": "plain"`) {
		t.Errorf("keys create with the default policy:\n%s", out)
	}
}
