package server

import (
	"strings"
	"testing"
)

// The configuration's digest covers every setting but never a secret: a
// DSN's password changes nothing and is not in the digested form, while
// an admin's ARN does change it.
func TestConfigDigestLeavesSecretsOut(t *testing.T) {
	e := startEnv(t, "")
	cfg := *e.srv.cfg
	base, err := configDigest(&cfg)
	must(t, err)
	for _, dsn := range []string{"postgres://keygate:hunter2@db/keygate?sslmode=require", "host=db user=keygate password=hunter2 dbname=k",
		"postgres://db/keygate?password=hunter2"} {
		c := cfg
		c.Store = StoreConfig{Driver: "postgres", DSN: dsn}
		raw, err := canonicalConfig(&c)
		must(t, err)
		if strings.Contains(string(raw), "hunter2") || !strings.Contains(string(raw), "REDACTED") {
			t.Errorf("DSN %q: the digested form holds the password or no redaction:\n%s", dsn, raw)
		}
	}
	c := cfg
	c.Admins = append([]string{arn("admin2")}, c.Admins...)
	if d, err := configDigest(&c); err != nil || d == base {
		t.Errorf("adding an admin left the digest %s (%v)", d, err)
	}
	if d, err := configDigest(&cfg); err != nil || d != base {
		t.Errorf("the digest of the same configuration changed: %s, %s (%v)", base, d, err)
	}
}
