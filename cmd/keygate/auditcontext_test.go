package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// Finding 8 of issue 16, the rest: several kinds and results in one
// filter; a well-formed key name, principal or action that no event can
// have, and an empty window, are refused like a malformed one; events are
// found by an encryption-context value through the HMAC the log holds
// (audit context-hash), across pages; GetCertificate is its own action.
func TestAuditEventsByContextAndLists(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	admin, acs := newCLI(t, env, "admin"), newCLI(t, env, "acs")
	admin.create("", "keys", "create", "pan-key", "--key-spec", "SYMMETRIC_DEFAULT", "--key-usage", "ENCRYPT_DECRYPT",
		"--policy-file", admin.file("p.json", []byte(harness.Policy(
			harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: harness.AdminActions},
			harness.Statement{Sid: "ACS", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Encrypt"}}))))
	pan := acs.file("pan", []byte("4111111111111111"))
	for _, id := range []string{"42", "43", "42", "44", "42"} {
		acs.ok("", "encrypt", "pan-key", "--plaintext-file", pan, "--encryption-context", "acsTransID="+id,
			"--encryption-context", "tenant=acme", "--out", acs.path("ct"))
	}
	acs.fails(exitDenied, "", "", "decrypt", "--ciphertext-file", acs.path("ct"), "--encryption-context", "acsTransID=42",
		"--encryption-context", "tenant=acme")

	// The HMAC of a value is the one the events hold.
	hash := admin.ok("", "audit", "context-hash", "acsTransID=42", "tenant=acme")
	m := regexp.MustCompile(`(?m)^acsTransID\s+([0-9a-f]{64})$`).FindStringSubmatch(hash)
	if m == nil || !regexp.MustCompile(`(?m)^tenant\s+[0-9a-f]{64}$`).MatchString(hash) || strings.Contains(hash, "acme") {
		t.Fatalf("audit context-hash:\n%s", hash)
	}
	if csv := admin.ok("", "--output", "csv", "audit", "events", "--action", "kms:Encrypt", "--key-id", "pan-key"); strings.Count(csv, m[1]) != 5-2 {
		t.Fatalf("%d events hold acsTransID=42's HMAC, want 3:\n%s", strings.Count(csv, m[1]), csv)
	}
	// --context finds them, a page of one at a time; and only them.
	rows := func(out string) int { return len(strings.Split(strings.TrimSpace(out), "\n")) - 1 }
	out := admin.ok("", "audit", "events", "--context", "acsTransID=42", "--action", "kms:Encrypt", "--page-size", "1")
	if rows(out) != 3 {
		t.Errorf("audit events --context acsTransID=42: %d rows, want 3:\n%s", rows(out), out)
	}
	if out := admin.ok("", "audit", "events", "--context", "acsTransID=44", "--context", "tenant=acme", "--action", "kms:Encrypt"); rows(out) != 1 {
		t.Errorf("two context pairs: %d rows, want 1:\n%s", rows(out), out)
	}
	if out := admin.ok("", "audit", "events", "--context", "acsTransID=44", "--context", "tenant=other", "--action", "kms:Encrypt"); rows(out) != 0 {
		t.Errorf("a pair no event has: %d rows, want 0:\n%s", rows(out), out)
	}
	// The lookups are audited with the keys and HMACs, not the values.
	if out := admin.ok("", "--output", "json", "audit", "events", "--kind", "audit.read", "--context", "acsTransID=42"); !strings.Contains(out, m[1]) || strings.Contains(out, `"42"`) {
		t.Errorf("the HashContext calls' events:\n%s", out)
	}
	admin.fails(exitUsage, "keygate: argument 1: want key=value\n", "", "audit", "context-hash", "4111111111111111")
	admin.fails(exitUsage, "keygate: invalid value for flag -context: want key=value;", "", "audit", "events", "--context", "4111111111111111")
	admin.fails(exitUsage, `keygate: invalid value for flag -encryption-context: key "acsTransID" given twice;`, "", "audit", "events",
		"--encryption-context", "acsTransID=4111111111111111", "--encryption-context", "acsTransID=4111111111111112")

	// Several kinds and results, repeated or as comma lists.
	out = admin.ok("", "audit", "events", "--key-id", "pan-key", "--kind", "call,key.created", "--result", "OK", "--result", "PermissionDenied")
	for _, want := range []string{"key.created", "kms:Encrypt", "PermissionDenied"} {
		if !strings.Contains(out, want) {
			t.Errorf("--kind call,key.created --result OK --result PermissionDenied lacks %s:\n%s", want, out)
		}
	}
	if out := admin.ok("", "audit", "events", "--key-id", "pan-key", "--kind", "key.created", "--kind", "policy.changed"); rows(out) != 1 {
		t.Errorf("--kind key.created --kind policy.changed: %d rows, want 1:\n%s", rows(out), out)
	}

	// Values no event can have are refused, with the filter named.
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--kind", "call,bogus"}, `filter.kind "bogus" is not an event kind; one of: call,`},
		{[]string{"--result", "OK", "--result", "denied"}, `filter.result "denied" is not a result; one of: OK,`},
		{[]string{"--key-id", "pan-kye"}, `filter.key_name "pan-kye": no key has that name and no event names it`},
		{[]string{"--key-id", "pan key"}, `filter.key_name must be 1 to 256 letters`},
		{[]string{"--principal", "arn:aws:iam::111122223333:role/acs-typo"}, `filter.principal "arn:aws:iam::111122223333:role/acs-typo": the config maps no identity to it`},
		{[]string{"--action", "kms:sign"}, `filter.action "kms:sign" is not an action of keygate's and no event has it`},
		{[]string{"--since", "1h", "--until", "2h"}, `filter.since (`},
		{[]string{"--context", "keygate:key-name=pan-key"}, `encryption_context keys starting with "keygate:" are reserved`},
	} {
		admin.fails(exitArgument, "keygate: InvalidArgument: "+bad.want, "", append([]string{"audit", "events"}, bad.args...)...)
	}
	admin.fails(exitUsage, `keygate: invalid value "call,,key.created" for flag -kind`, "", "audit", "events", "--kind", "call,,key.created")
	// A key name that no longer is in the registry but is in the log still
	// matches what was done with it: the refused call's own event names it.
	admin.fails(exitNotFound, "", "", "keys", "describe", "pan-kye")
	if out := admin.ok("", "audit", "events", "--key-id", "pan-kye"); rows(out) != 1 {
		t.Errorf("events about a name that is in the log only: %d rows, want 1:\n%s", rows(out), out)
	}
}
