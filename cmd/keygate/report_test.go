package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// TestReport writes the evidence pack after the scripted KMS session,
// checks its CSV numbers against the calls made, verifies it, alters each
// file by one byte, and renders index.html in headless Chromium with the
// network off, to text and to PDF.
func TestReport(t *testing.T) {
	s := startKMSSession(t, harness.Options{})
	auditor := newCLI(t, s.env, "ds") // an auditor's certificate is enough
	dir := filepath.Join(t.TempDir(), "pack")
	out, errOut, code := auditor.run("", "report", "--since", "1h", "--out", dir, "--lookup", "--delivery-delay", "1ms")
	if code != exitOK || !strings.Contains(out, "evidence pack written to") || !strings.Contains(out, "findings") {
		t.Fatalf("report: exit %d\n%s%s", code, out, errOut)
	}
	// The numbers, against the session: 3 signs by the ACS, 1 denial of ds,
	// the policy change by the admin, the planted bypass and lost record.
	find := func(file string, want ...string) []string {
		t.Helper()
		rows := readCSV(t, filepath.Join(dir, file))
		for _, r := range rows[1:] {
			if containsAll(r, want) {
				return r
			}
		}
		t.Fatalf("%s: no row with %q in %q", file, want, rows)
		return nil
	}
	if r := find("usage.csv", "acs-kms", harness.ARN("acs"), "kms:Sign"); r[3] != "3" || r[4] != "0" {
		t.Errorf("usage.csv: %q, want 3 OK, 0 failed", r)
	}
	if r := find("usage.csv", "acs-kms", harness.ARN("ds"), "kms:Sign"); r[3] != "0" || r[4] != "1" {
		t.Errorf("usage.csv: %q, want ds's one failed Sign", r)
	}
	find("denials.csv", harness.ARN("ds"), "kms:Sign", "acs-kms", "PermissionDenied", "ImplicitDeny")
	find("changes.csv", "policy.changed", harness.ARN("admin"), "acs-kms")
	find("changes.csv", "key.created", harness.ARN("admin"), "acs-kms")
	find("access.csv", "acs-kms", harness.ARN("acs"), "kms:Sign", "allow", "ACS")
	find("access.csv", "acs-kms", harness.ARN("ds"), "kms:Sign", "not-allowed")
	find("reconciliation.csv", "bypass", "Sign", "acs-kms", malloryARN)
	find("reconciliation.csv", "keygate-only", s.dropped)
	if r := find("kms-requests.csv", "acs-kms", "Sign"); r[3] != "3" || r[4] != "0.15" {
		t.Errorf("kms-requests.csv: %q, want 3 requests at $0.15/10k (ECC)", r)
	}
	find("keys.csv", "hsm-signing", "pkcs11", "none: SoftHSM2 (development only)",
		"v1 GENERATED CKA_LOCAL=true CKA_NEVER_EXTRACTABLE=true CKA_ALWAYS_SENSITIVE=true")
	find("keys.csv", "acs-kms", "kms", "v1 GENERATED") // KMS keeps no PKCS#11 attributes

	// The pack verifies, and not after any one byte of any file changes.
	key := filepath.Join(dir, "checkpoint-key.pem")
	assessorKey := auditor.path("assessor-copy.pem") // the assessor's own copy, not the pack's
	auditor.ok("", "audit", "checkpoint-key", "--out", assessorKey)
	if out := auditor.ok("", "report", "verify", dir, "--checkpoint-key", assessorKey); !strings.Contains(out, "intact") {
		t.Fatalf("report verify: %s", out)
	}
	opensslManifest(t, dir, key)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		orig, _ := os.ReadFile(p)
		changed := bytes.Clone(orig)
		changed[len(changed)/2] ^= 0x01
		if err := os.WriteFile(p, changed, 0o644); err != nil {
			t.Fatal(err)
		}
		out, _, code := auditor.run("", "report", "verify", dir, "--checkpoint-key", assessorKey)
		if code != exitInvalid || !strings.Contains(out, "INVALID") {
			t.Errorf("%s altered: exit %d: %s", e.Name(), code, out)
		}
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "extra.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	auditor.fails(exitInvalid, "", "", "report", "verify", dir, "--checkpoint-key", assessorKey)
	os.Remove(filepath.Join(dir, "extra.txt"))

	renderInChromium(t, filepath.Join(dir, "index.html"))

	// The log records which manifest the checkpoint key signed, and for whom.
	if out := auditor.ok("", "--output", "csv", "audit", "events", "--action", "keygate:ReadAuditLog", "--principal", harness.ARN("ds")); !strings.Contains(out, "evidence pack manifest signed: digest ") {
		t.Errorf("manifest signing not audited:\n%s", out)
	}

	// An existing pack is not overwritten unless asked.
	auditor.fails(exitArgument, "keygate: InvalidArgument: out ", "", "report", "--since", "1h", "--out", dir)
	auditor.ok("", "report", "--since", "1h", "--out", dir, "--force")
	auditor.ok("", "report", "verify", dir, "--checkpoint-key", assessorKey)
}

// opensslManifest checks the documented openssl command.
func opensslManifest(t *testing.T, dir, key string) {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	cmd := exec.Command("openssl", "dgst", "-sha256", "-verify", key, "-signature", filepath.Join(dir, "manifest.json.sig"))
	cmd.Stdin = bytes.NewReader(append([]byte("keygate-report-manifest-v1\x00"), raw...))
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verified OK") {
		t.Fatalf("openssl dgst -verify: %v: %s", err, out)
	}
}

// renderInChromium renders index.html headless with the network off,
// checks the rendered text of each section, and prints it to PDF (and a
// PNG screenshot, kept where KEYGATE_REPORT_SHOTS points, for a person).
func renderInChromium(t *testing.T, index string) {
	t.Helper()
	work := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
			"--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
			"--user-data-dir=" + filepath.Join(work, "profile"), "--virtual-time-budget=5000"}
		cmd := exec.Command("chromium", append(append(base, args...), "file://"+index)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
		}
		return stdout.Bytes()
	}
	dom := run("--dump-dom")
	text := regexp.MustCompile(`\s+`).ReplaceAllString(regexp.MustCompile(`(?s)<style.*?</style>|<[^>]+>`).ReplaceAllString(string(dom), " "), " ")
	for _, want := range []string{
		"1. Key inventory", "PCI DSS v4.0 3.6.1", "acs-kms", "ECC_NIST_P256", "FIPS 140-3 Level 3 (AWS KMS)",
		"Versions: state, origin, PKCS#11 attributes", "GENERATED CKA_LOCAL=true CKA_NEVER_EXTRACTABLE=true CKA_ALWAYS_SENSITIVE=true",
		"2. Access matrix", "PCI DSS v4.0 7.2.1", "kms:Sign",
		"3. Key usage", "acs-kms: 4 calls", "PCI DSS v4.0 10.2.1",
		"4. Denials", "ImplicitDeny", "PCI DSS v4.0 10.2.1.4",
		"5. Lifecycle and policy changes", "policy.changed",
		"6. Audit log verification", "intact", "Checkpoint key fingerprint",
		"7. CloudTrail reconciliation", "bypass", malloryARN, "PKCS#11, no CloudTrail",
		"8. KMS requests and cost",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("rendered index.html lacks %q", want)
		}
	}
	pdf := filepath.Join(work, "index.pdf")
	run("--print-to-pdf="+pdf, "--no-pdf-header-footer")
	if b, err := os.ReadFile(pdf); err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) || len(b) < 10000 {
		t.Fatalf("print to PDF: %d bytes, %v", len(b), err)
	}
	if shots := os.Getenv("KEYGATE_REPORT_SHOTS"); shots != "" {
		run("--screenshot="+filepath.Join(shots, "index.png"), "--window-size=1200,4000")
		b, _ := os.ReadFile(pdf)
		_ = os.WriteFile(filepath.Join(shots, "index.pdf"), b, 0o644)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func containsAll(row, want []string) bool {
	for _, w := range want {
		found := false
		for _, c := range row {
			if c == w {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
