package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

type auditEvent struct {
	Seq     uint64 `json:"seq,string"`
	Kind    string `json:"kind"`
	Action  string `json:"action"`
	KeyName string `json:"key_name"`
	Result  string `json:"result"`
}

func testAudit(t *testing.T, c *cli) {
	m := c.file("m", []byte("audited"))
	c.ok("", "sign", "acs-signing", "--message-file", m)
	c.fails(exitNotFound, "keygate: NotFound: ", "", "sign", "no-such-audited-key", "--message-file", m)

	var list struct{ Events []auditEvent }
	decode(t, c.ok("", "--output", "json", "audit", "list", "--key-name", "acs-signing", "--action", "kms:Sign", "--since", "1h", "--page-size", "1"), &list)
	if len(list.Events) == 0 {
		t.Fatal("audit list: no kms:Sign event for acs-signing")
	}
	for _, ev := range list.Events {
		if ev.KeyName != "acs-signing" || ev.Action != "kms:Sign" {
			t.Errorf("audit list --key-name acs-signing --action kms:Sign returned %+v", ev)
		}
	}
	decode(t, c.ok("", "--output", "json", "audit", "list", "--result", "NotFound", "--key-name", "no-such-audited-key"), &list)
	if len(list.Events) != 1 || list.Events[0].Action != "kms:Sign" {
		t.Errorf("audit list --result NotFound: %+v", list.Events)
	}
	if out := c.ok("", "audit", "list", "--limit", "3"); strings.Count(out, "\n") != 4 || !strings.HasPrefix(out, "SEQ") {
		t.Errorf("audit list --limit 3:\n%s", out)
	}
	c.fails(exitUsage, `keygate: --since "yesterday"`, "", "audit", "list", "--since", "yesterday")

	// tail from just before the end returns the stored events at once.
	decode(t, c.ok("", "--output", "json", "audit", "list"), &list)
	last := list.Events[len(list.Events)-1].Seq
	out := c.ok("", "--output", "json", "audit", "tail", "--after-seq", fmt.Sprint(last-2), "--max-events", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, want := range []uint64{last - 1, last} {
		var ev auditEvent
		if decode(t, lines[min(i, len(lines)-1)], &ev); len(lines) != 2 || ev.Seq != want {
			t.Errorf("audit tail line %d: %q, want seq %d of 2 lines", i, lines, want)
		}
	}

	// The checkpoint key, then the log verified online and offline from the
	// database.
	key := c.path("audit-key.pem")
	c.ok("", "audit", "checkpoint-key", "--out", key)
	if b, _ := pem.Decode(c.readFile(key)); b == nil || b.Type != "PUBLIC KEY" {
		t.Fatal("audit checkpoint-key: no PUBLIC KEY PEM")
	}
	if out := c.ok("", "audit", "verify"); !strings.HasPrefix(out, "audit log intact: ") {
		t.Errorf("audit verify:\n%s", out)
	}
	db := filepath.Join(c.env.Dir, "keygate.db")
	if out := c.ok("", "audit", "verify", "--db", db, "--checkpoint-key", key); !strings.HasPrefix(out, "audit log intact: ") {
		t.Errorf("audit verify --db:\n%s", out)
	}
	c.fails(exitUsage, "keygate: --checkpoint-key is required", "", "audit", "verify", "--db", db)
	newCLI(t, c.env, "acs").fails(exitDenied, "keygate: PermissionDenied: ", "", "audit", "list")
}

// TestAuditArchive exports an archive and verifies it offline. An archive
// ends at a signed checkpoint, and a fresh log has none until 1000 events
// or a minute pass, or the server stops: so the first server is stopped
// (its log signs a final checkpoint) and a second one opens the same
// token and database, as after a restart.
func TestAuditArchive(t *testing.T) {
	first := harness.Start(t, harness.Options{})
	first.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	c := newCLI(t, first, "admin")
	c.ok("", "sign", "acs-signing", "--message-file", c.file("m", []byte("archived")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first.Server.Shutdown(ctx)
	if err := first.Server.Close(); err != nil {
		t.Fatal(err)
	}
	env := harness.Start(t, harness.Options{Token: &first.Token,
		Store: &server.StoreConfig{Driver: "sqlite", DSN: filepath.Join(first.Dir, "keygate.db")}})
	c = newCLI(t, env, "admin")

	key, arch := c.path("audit-key.pem"), c.path("audit.jsonl")
	c.ok("", "audit", "checkpoint-key", "--out", key)
	c.ok("", "audit", "export", "--out", arch, "--until", "0s")
	if out := c.ok("", "audit", "verify", "--archive", arch, "--checkpoint-key", key); !strings.HasPrefix(out, "audit log intact: ") {
		t.Errorf("audit verify --archive:\n%s", out)
	}
	tampered := bytes.Replace(c.readFile(arch), []byte(`"kms:Sign"`), []byte(`"kms:Verify"`), 1)
	if bytes.Equal(tampered, c.readFile(arch)) {
		t.Fatal("the archive holds no kms:Sign event to alter")
	}
	out, errOut, code := c.run(string(tampered), "audit", "verify", "--archive", "-", "--checkpoint-key", key)
	if code != exitInvalid || !strings.Contains(out, "BROKEN") {
		t.Errorf("a tampered archive: exit %d, %s%s; want exit %d and BROKEN", code, out, errOut, exitInvalid)
	}
}
