package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/internal/sqldb"
	pb "github.com/keygate/keygate/proto/keygate/v1"
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
	testAuditEvents(t, c)

	// tail from just before the end returns the stored events at once.
	decode(t, c.ok("", "--output", "json", "audit", "list"), &list)
	last := list.Events[len(list.Events)-1].Seq
	out := c.ok("", "--output", "json", "audit", "tail", "-f", "--after-seq", fmt.Sprint(last-2), "--max-events", "2")
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
	c.fails(exitUsage, "keygate: --offline needs --db", "", "audit", "verify", "--offline")
	newCLI(t, c.env, "acs").fails(exitDenied, "keygate: PermissionDenied: ", "", "audit", "list")
}

// testAuditEvents runs issue 5's spellings: audit events with --key and
// dates, --output csv parsed back with encoding/csv, tail -f in CSV.
func testAuditEvents(t *testing.T, c *cli) {
	m := c.file("m-events", []byte("in csv, \"quoted\""))
	c.create(harness.OpenPolicy(), "keys", "create", "cli-audit-csv", "--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY", "--policy-file", "-")
	c.ok("", "sign", "cli-audit-csv", "--message-file", m)
	c.fails(exitArgument, "keygate: InvalidArgument: ", "", "sign", "cli-audit-csv", "--message-file", m, "--algorithm", "HMAC_SHA_256")
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)

	var list struct{ Events []auditEvent }
	decode(t, c.ok("", "--output", "json", "audit", "events", "--key-id", "cli-audit-csv", "--action", "kms:Sign",
		"--since", today, "--until", tomorrow), &list)
	if len(list.Events) != 2 {
		t.Fatalf("audit events --key cli-audit-csv --action kms:Sign: %d events, want 2: %+v", len(list.Events), list.Events)
	}
	if decode(t, c.ok("", "--output", "json", "audit", "events", "--key-id", "cli-audit-csv", "--until", today), &list); len(list.Events) != 0 {
		t.Errorf("audit events --until today (midnight UTC): %+v", list.Events)
	}

	out := c.ok("", "--output", "csv", "audit", "events", "--key-id", "cli-audit-csv", "--action", "kms:Sign", "--page-size", "1")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 3 || !slices.Equal(rows[0], eventColumns) {
		t.Fatalf("audit events --output csv: %v\n%s", err, out)
	}
	col := func(row []string, name string) string { return row[slices.Index(eventColumns, name)] }
	for i, want := range []string{"OK", "InvalidArgument"} {
		row := rows[i+1]
		if col(row, "key_name") != "cli-audit-csv" || col(row, "action") != "kms:Sign" || col(row, "result") != want ||
			col(row, "principal") != harness.ARN("admin") || len(col(row, "hash")) != 64 {
			t.Errorf("CSV row %d: %q", i+1, row)
		}
		if _, err := time.Parse(time.RFC3339Nano, col(row, "time")); err != nil {
			t.Errorf("CSV row %d time: %v", i+1, err)
		}
	}
	if seq := col(rows[2], "seq"); seq == col(rows[1], "seq") || col(rows[2], "prev_hash") == "" {
		t.Errorf("CSV rows 1 and 2: %q %q", rows[1], rows[2])
	}
	// An error message with commas and quotes survives the round trip.
	if e := col(rows[2], "error"); e == "" {
		t.Errorf("CSV row 2 has no error text: %q", rows[2])
	}

	out = c.ok("", "--output", "csv", "audit", "events", "--key-id", "cli-audit-csv", "--page-size", "1", "--limit", "1")
	if rows, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil || len(rows) != 2 {
		t.Errorf("audit events --output csv --limit 1: %v\n%s", err, out)
	}

	// tail -f --output csv: the header, then rows as they come.
	first, _ := strconv.ParseUint(col(rows[1], "seq"), 10, 64)
	out = c.ok("", "--output", "csv", "audit", "tail", "--follow", "--key-id", "cli-audit-csv", "--after-seq", fmt.Sprint(first-1), "--max-events", "1")
	if rows, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil || len(rows) != 2 || col(rows[1], "seq") != fmt.Sprint(first) {
		t.Errorf("audit tail --output csv: %v\n%s", err, out)
	}
	c.fails(exitUsage, "keygate: audit tail always follows", "", "audit", "tail", "-f=false")
	c.fails(exitUsage, "keygate: --output csv: only audit events", "", "--output", "csv", "keys", "list")
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
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	out := c.ok("", "audit", "archive", "--until", tomorrow, "--out", arch)
	var from, through, n uint64
	if _, err := fmt.Sscanf(out, "archived events %d-%d (%d events) to "+arch, &from, &through, &n); err != nil || from != 1 || n != through {
		t.Fatalf("audit archive: %q (%v)", out, err)
	}
	if out := c.ok("", "audit", "verify", "--archive", arch, "--checkpoint-key", key); !strings.HasPrefix(out, "audit log intact: ") {
		t.Errorf("audit verify --archive:\n%s", out)
	}
	if exported := c.ok("", "audit", "export", "--until", "0s"); !strings.HasPrefix(exported, string(c.readFile(arch))) {
		t.Errorf("audit export to stdout does not start with the archive of the same events")
	}
	tampered := bytes.Replace(c.readFile(arch), []byte(`"kms:Sign"`), []byte(`"kms:Verify"`), 1)
	if bytes.Equal(tampered, c.readFile(arch)) {
		t.Fatal("the archive holds no kms:Sign event to alter")
	}
	out, errOut, code := c.run(string(tampered), "audit", "verify", "--archive", "-", "--checkpoint-key", key)
	if code != exitInvalid || !strings.Contains(out, "BROKEN") {
		t.Errorf("a tampered archive: exit %d, %s%s; want exit %d and BROKEN", code, out, errOut, exitInvalid)
	}

	// Prune, offline, beside the running server: refused with the tampered
	// archive, done with the real one; the server's own verify agrees.
	db := filepath.Join(first.Dir, "keygate.db")
	bad := c.file("tampered.jsonl", tampered)
	out = c.fails(exitInvalid, "", "", "audit", "prune", "--db", db, "--checkpoint-key", key, "--archive", bad)
	if !strings.HasPrefix(out, "archive "+bad+" does not verify: ") || !strings.Contains(out, "nothing pruned") {
		t.Errorf("audit prune with a tampered archive:\n%s", out)
	}
	c.fails(exitUsage, "keygate: --db: ", "", "audit", "prune", "--db", c.path("no.db"), "--checkpoint-key", key, "--archive", arch)
	var res struct {
		Pruned struct {
			From      uint64 `json:"from_seq"`
			Through   uint64 `json:"through_seq"`
			Events    uint64 `json:"events"`
			RecordSeq uint64 `json:"record_seq"`
		}
		Store struct {
			OK       bool   `json:"ok"`
			Problems []any  `json:"problems"`
			HeadSeq  uint64 `json:"head_seq,string"`
		}
	}
	// By default the last three months stay online: these events are seconds old.
	c.fails(exitState, "keygate: FailedPrecondition: the archive's last event (seq "+fmt.Sprint(through), "",
		"audit", "prune", "--db", db, "--checkpoint-key", key, "--archive", arch)
	// A prune that cannot record itself in the chain deletes nothing
	// (issue 16, finding 6): here a trigger refuses the record's insert.
	sqlDB, err := sqldb.Open(sqldb.SQLite, db)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	mustExec := func(q string) {
		t.Helper()
		if _, err := sqlDB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`CREATE TRIGGER refuse_prune_record BEFORE INSERT ON audit_events WHEN NEW.kind = (SELECT id FROM audit_strings WHERE s = 'audit.pruned') BEGIN SELECT RAISE(ABORT, 'no'); END`)
	c.fails(exitInternal, "keygate: recording the prune in the audit log: ", "", "audit", "prune", "--db", db, "--checkpoint-key", key, "--archive", arch, "--keep-days", "0")
	mustExec(`DROP TRIGGER refuse_prune_record`)
	var kept struct{ Events []auditEvent }
	if decode(t, c.ok("", "--output", "json", "audit", "events"), &kept); len(kept.Events) == 0 || kept.Events[0].Seq != 1 {
		t.Errorf("a prune that could not be recorded deleted events: the log starts at %+v", kept.Events)
	}

	decode(t, c.ok("", "--output", "json", "audit", "prune", "--db", db, "--checkpoint-key", key, "--archive", arch, "--keep-days", "0"), &res)
	if res.Pruned.From != 1 || res.Pruned.Through != through || res.Pruned.Events != through || !res.Store.OK || res.Store.HeadSeq <= through ||
		res.Pruned.RecordSeq <= through {
		t.Errorf("audit prune: %+v", res)
	}
	// The prune is in the chain: what range, by whom, which archive.
	var pruned struct {
		Events []struct {
			Seq    uint64 `json:"seq,string"`
			Action string `json:"action"`
			Detail string `json:"detail"`
		}
	}
	decode(t, c.ok("", "--output", "json", "audit", "events", "--kind", "audit.pruned"), &pruned)
	if len(pruned.Events) != 1 || pruned.Events[0].Seq != res.Pruned.RecordSeq || pruned.Events[0].Action != "keygate:PruneAuditLog" ||
		!strings.Contains(pruned.Events[0].Detail, fmt.Sprintf("pruning events 1-%d (%d events) by ", through, through)) ||
		!strings.Contains(pruned.Events[0].Detail, "covered by archive "+arch+" sha256:") {
		t.Errorf("audit events --kind audit.pruned: %+v", pruned.Events)
	}
	var list struct{ Events []auditEvent }
	if decode(t, c.ok("", "--output", "json", "audit", "events"), &list); len(list.Events) == 0 || list.Events[0].Seq != through+1 {
		t.Errorf("after the prune the log starts at %+v, want seq %d", list.Events[:min(1, len(list.Events))], through+1)
	}
	if out := c.ok("", "audit", "verify"); !strings.HasPrefix(out, "audit log intact: ") ||
		!strings.Contains(out, fmt.Sprintf("last prune: audit event %d at ", res.Pruned.RecordSeq)) {
		t.Errorf("audit verify after the prune:\n%s", out)
	}
	if out := c.ok("", "audit", "verify", "--db", db, "--checkpoint-key", key); !strings.Contains(out, "last prune: audit event ") {
		t.Errorf("audit verify --db after the prune:\n%s", out)
	}
	// The same archive again: nothing left of it to prune, and nothing recorded.
	_, errOut, code = c.run("", "audit", "prune", "--db", db, "--checkpoint-key", key, "--archive", arch, "--keep-days", "0")
	if code == 0 || !strings.Contains(errOut, "outside the stored chain") {
		t.Errorf("a second prune with the same archive: exit %d, %s", code, errOut)
	}
	if decode(t, c.ok("", "--output", "json", "audit", "events", "--kind", "audit.pruned"), &pruned); len(pruned.Events) != 1 {
		t.Errorf("a refused prune was recorded: %+v", pruned.Events)
	}
}

// TestEventCSV: fields with commas, quotes and newlines come back intact.
func TestEventCSV(t *testing.T) {
	ev := &pb.AuditEvent{Seq: 7, Time: timestamppb.New(time.Date(2026, 11, 23, 10, 0, 0, 5, time.UTC)), Kind: "call",
		Principal: "arn:aws:iam::111122223333:role/acs", Action: "kms:Decrypt", Result: "InvalidArgument",
		Error: `bad "ciphertext", twice`, Detail: "line 1\nline 2", Latency: durationpb.New(1500 * time.Microsecond),
		EncryptionContext: []*pb.ContextField{{Key: "purpose", ValueHmac: "ab"}, {Key: "a,b", ValueHmac: "cd"}},
		Hash:              []byte{0xde, 0xad}}
	var b bytes.Buffer
	w, err := newEventCSV(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.write(ev, ev); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("%v: %q", err, rows)
	}
	got := map[string]string{}
	for i, name := range rows[0] {
		got[name] = rows[1][i]
	}
	for name, want := range map[string]string{"seq": "7", "time": "2026-11-23T10:00:00.000000005Z", "error": ev.Error,
		"detail": `line 1\nline 2`, "latency_ns": "1500000", "encryption_context": `{"a,b":"cd","purpose":"ab"}`,
		"hash": "dead", "prev_hash": "", "key_version": "0"} {
		if got[name] != want {
			t.Errorf("column %s = %q, want %q", name, got[name], want)
		}
	}
}
