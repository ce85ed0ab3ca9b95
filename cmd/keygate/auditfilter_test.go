package main

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// Finding 8 of issue 16: an `audit events` filter value that no event can
// have is an error naming what it may be, never an empty answer that reads
// as "no events"; days count in --since; the wide table names the
// certificate subject and the deciding Sid; an unknown verb says so.
func TestAuditEventsFiltersCannotMislead(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	c := newCLI(t, env, "admin")
	c.create("", "keys", "create", "filter-key", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC",
		"--policy-file", c.file("p.json", []byte(harness.Policy(
			harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: harness.AdminActions}))))
	for _, bad := range []struct{ flag, value, want string }{
		{"--kind", "bogus", `filter.kind "bogus" is not an event kind; one of: call, key.created,`},
		{"--result", "denied", `filter.result "denied" is not a result; one of: OK, Canceled,`},
		{"--principal", "role/acs", `filter.principal "role/acs" is not a whole principal ARN`},
		{"--action", "Sign", `filter.action "Sign" has no prefix: actions are matched exactly, as kms:Sign or keygate:Sign`},
	} {
		c.fails(exitArgument, "keygate: InvalidArgument: "+bad.want, "", "audit", "events", bad.flag, bad.value)
	}
	c.fails(exitUsage, `keygate: --since "90x"`, "", "audit", "events", "--since", "90x")

	out := c.ok("", "audit", "events", "--since", "90d", "--result", "OK", "--kind", "key.created",
		"--principal", harness.ARN("admin"), "--action", "kms:CreateKey", "--key-id", "filter-key", "--wide")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "SID") || !strings.Contains(lines[0], "SUBJECT") ||
		!strings.Contains(lines[1], "config:admins") || !strings.Contains(lines[1], "CN=admin") {
		t.Errorf("audit events --wide:\n%s", out)
	}
	c.fails(exitUsage, `keygate: unknown command "audit bogus"`, "", "audit", "bogus")
}
