package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// Finding 2 of issue 16: who granted ds MAC rights on issuer-cavv, and
// when, prints from the CLI with each document; a history row edited in
// the database is refused, not printed as history.
func TestPolicyHistory(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	c := newCLI(t, env, "admin")
	admins := harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: harness.AdminActions}
	first := harness.Policy(admins)
	second := harness.Policy(admins, harness.Statement{Sid: "DsMacs", Principals: []string{harness.ARN("ds")}, Actions: []string{"kms:GenerateMac"}})
	c.create("", "keys", "create", "issuer-cavv", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC",
		"--policy-file", c.file("p1.json", []byte(first)))
	c.ok(second, "keys", "put-policy", "issuer-cavv", "--policy-file", "-")

	out := c.ok("", "keys", "policy-history", "issuer-cavv")
	sum := func(doc string) string { s := sha256.Sum256([]byte(doc)); return hex.EncodeToString(s[:]) }
	entries := strings.Split(out, "\nseq ")
	if len(entries) != 2 {
		t.Fatalf("two policies, %d entries:\n%s", len(entries), out)
	}
	for i, want := range []struct{ action, change, doc string }{
		{"kms:CreateKey", "policy (none) -> sha256:" + sum(first), first},
		{"kms:PutKeyPolicy", "policy sha256:" + sum(first) + " -> sha256:" + sum(second), second},
	} {
		e := entries[i]
		if !strings.Contains(e, harness.ARN("admin")+"  "+want.action) || !strings.Contains(e, want.change) ||
			!strings.Contains(e, "\n  policy sha256:"+sum(want.doc)+"\n") {
			t.Errorf("entry %d:\n%s", i, e)
		}
	}
	if !strings.Contains(entries[1], `"Sid": "DsMacs"`) || strings.Contains(entries[0], "DsMacs") {
		t.Errorf("documents:\n%s", out)
	}
	if js := c.ok("", "--output", "json", "keys", "policy-history", "issuer-cavv"); !strings.Contains(js, `"policy_sha256": "`+sum(second)+`"`) {
		t.Errorf("--output json:\n%s", js)
	}
	newCLI(t, env, "ds").fails(exitDenied, "keygate: PermissionDenied: ", "", "keys", "policy-history", "issuer-cavv")

	db, err := sql.Open("sqlite", env.Config.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE key_policy_history SET policy = ?, sha256 = ? WHERE key_name = 'issuer-cavv' AND policy LIKE '%DsMacs%'`, first, sum(first)); err != nil {
		t.Fatal(err)
	}
	c.fails(exitInternal, "keygate: Internal: ", "", "keys", "policy-history", "issuer-cavv")
}
