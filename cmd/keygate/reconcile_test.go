package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keygate/keygate/audit/reconcile"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/kmsserver"
	"github.com/keygate/keygate/test/s3server"
)

const (
	keygatedRole = "arn:aws:iam::111122223333:role/keygated"
	malloryARN   = "arn:aws:iam::111122223333:user/mallory"
)

// kmsSession is a scripted session on keygated with a KMS backend against
// the KMS/CloudTrail test server: calls through keygate, a denial, a
// policy change, one direct KMS call by another identity, and one
// CloudTrail record lost.
type kmsSession struct {
	env      *harness.Env
	srv      *kmsserver.Server
	arn      string
	dropped  string // the request id CloudTrail lost
	trailDir string
	signs    int // successful kms:Sign calls through keygate
}

func startKMSSession(t *testing.T, opts harness.Options) *kmsSession {
	ctx := context.Background()
	srv := kmsserver.New(t)
	srv.SetPrincipal(kmsserver.TestAccessKeyID, keygatedRole)
	srv.SetPrincipal("AKIAMALLORY000000001", malloryARN)
	srv.SetLookupLimiter(nil) // the test reads a handful of pages; the 2/s limit is kmsserver's own test
	t.Setenv("AWS_ACCESS_KEY_ID", kmsserver.TestAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", kmsserver.TestSecretAccessKey)
	t.Setenv("AWS_REGION", srv.Region)
	opts.Auditors = []string{harness.ARN("admin"), harness.ARN("ds")}
	opts.ExtraBackends = `
  - name: kms
    type: kms
    config: {region: ` + srv.Region + `, endpoint: "` + srv.URL + `"}
`
	env := harness.Start(t, opts)
	policy := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: harness.AdminActions},
		harness.Statement{Sid: "Keygated", Principals: []string{keygatedRole}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "ACS", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign"}})
	created, err := env.Admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "acs-kms", KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", Backend: "kms", Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	s := &kmsSession{env: env, srv: srv, arn: created.Key.Versions[0].BackendKeyId}
	env.CreateKey("hsm-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	for range 3 {
		if _, err := env.Crypto("acs").Sign(ctx, &pb.SignRequest{KeyId: "acs-kms", Message: []byte("acs signed content")}); err != nil {
			t.Fatal(err)
		}
		s.signs++
	}
	if _, err := env.Crypto("ds").Sign(ctx, &pb.SignRequest{KeyId: "acs-kms", Message: []byte("m")}); err == nil {
		t.Fatal("ds signed with the ACS key")
	}
	if _, err := env.Admin("admin").PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "acs-kms", Policy: policy}); err != nil {
		t.Fatal(err)
	}
	// Mallory signs with the key straight through KMS, around keygate.
	mallory := kms.NewFromConfig(srv.AWSConfig(), func(o *kms.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIAMALLORY000000001", "x", "")
	})
	if _, err := mallory.Sign(ctx, &kms.SignInput{KeyId: aws.String(s.arn), Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"}); err != nil {
		t.Fatal(err)
	}
	evs, err := pb.NewAuditServiceClient(env.Conn("admin")).ListEvents(ctx, &pb.ListEventsRequest{Filter: &pb.EventFilter{Action: "kms:Sign", KeyName: "acs-kms", Result: "OK"}})
	if err != nil || len(evs.Events) != 3 {
		t.Fatalf("audited signs: %v %v", evs, err)
	}
	s.dropped = evs.Events[1].BackendRequestId
	if !srv.DropRecord(s.dropped) {
		t.Fatal("no CloudTrail record to drop")
	}
	bucket := t.TempDir() // the trail's bucket, served by s3server; the trail's prefix is org/
	s.trailDir = filepath.Join(bucket, "org")
	if _, err := srv.WriteCloudTrail(s.trailDir); err != nil {
		t.Fatal(err)
	}
	s3 := s3server.New(t)
	if err := s3.PutDir("trail-bucket", bucket); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", s3.URL)
	// The compliance team's own credentials for CloudTrail.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIACOMPLIANCE000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "compliance")
	t.Setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", srv.URL)
	return s
}

// check asserts that the report names exactly the planted bypass and the
// dropped record, and matches everything else keygate sent to KMS.
func (s *kmsSession) check(t *testing.T, out string) {
	t.Helper()
	var rep reconcile.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Findings) != 2 || rep.Counts[reconcile.Bypass] != 1 || rep.Counts[reconcile.KeygateOnly] != 1 || rep.Counts[reconcile.Mismatched] != 0 {
		t.Fatalf("findings: %+v\ncounts %+v", rep.Findings, rep.Counts)
	}
	for _, f := range rep.Findings {
		switch f.Class {
		case reconcile.Bypass:
			if f.Identity != malloryARN || f.KeyName != "acs-kms" || f.KeyARN != s.arn || f.Operation != "Sign" || f.SourceIP == "" || f.UserAgent == "" {
				t.Errorf("bypass: %+v", f)
			}
		case reconcile.KeygateOnly:
			if f.RequestID != s.dropped || f.Principal != harness.ARN("acs") || f.Seq == 0 {
				t.Errorf("keygate-only: %+v", f)
			}
		}
	}
	// CreateKey and two signs: matched; Mallory's sign is counted, not matched.
	if rep.Counts[reconcile.Matched] != 1+s.signs-1 {
		t.Errorf("matched %d, want %d: %+v", rep.Counts[reconcile.Matched], s.signs, rep.Counts)
	}
	if len(rep.NoCloudTrail) < 1 || !strings.Contains(out, `"name": "hsm-signing"`) {
		t.Errorf("no CloudTrail: %+v", rep.NoCloudTrail)
	}
	if len(rep.KeygateRoles) != 1 || rep.KeygateRoles[0] != keygatedRole {
		t.Errorf("keygate roles %v", rep.KeygateRoles)
	}
}

func TestReconcileCLI(t *testing.T) {
	s := startKMSSession(t, harness.Options{})
	auditor := newCLI(t, s.env, "ds") // an auditor, not an admin
	// Both sources, online: exit 1 on the findings.
	for _, src := range [][]string{{"--lookup"}, {"--trail-dir", s.trailDir}, {"--trail-s3", "s3://trail-bucket/org"}} {
		args := append([]string{"--output", "json", "audit", "reconcile", "--since", "1h", "--delivery-delay", "1ms"}, src...)
		out, errOut, code := auditor.run("", args...)
		if code != exitInvalid {
			t.Fatalf("%v: exit %d, %s", src, code, errOut)
		}
		s.check(t, out)
	}
	// Offline against the database: the same answer.
	db := filepath.Join(s.env.Dir, "keygate.db")
	out, errOut, code := auditor.run("", "--output", "json", "audit", "reconcile", "--since", "1h", "--delivery-delay", "1ms", "--trail-dir", s.trailDir, "--db", db)
	if code != exitInvalid {
		t.Fatalf("--db: exit %d, %s", code, errOut)
	}
	s.check(t, out)

	// Inside the delivery delay the lost record is pending; the bypass still fails the run.
	out, _, code = auditor.run("", "audit", "reconcile", "--since", "1h", "--lookup")
	t.Logf("keygate audit reconcile --since 1h --lookup:\n%s", out)
	if code != exitInvalid || !strings.Contains(out, "pending:") || !strings.Contains(out, "bypass Sign key acs-kms") || !strings.Contains(out, malloryARN) {
		t.Errorf("table, default delay: exit %d\n%s", code, out)
	}
	out, _, _ = auditor.run("", "--output", "csv", "audit", "reconcile", "--since", "1h", "--lookup", "--delivery-delay", "1ms")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "class" {
		t.Errorf("csv: %v\n%s", err, out)
	}

	// Bad input: named, nothing run.
	auditor.fails(exitUsage, "keygate: --until", "", "audit", "reconcile", "--since", "1h", "--until", "2h", "--lookup")
	auditor.fails(exitUsage, "keygate: give exactly one CloudTrail source", "", "audit", "reconcile", "--since", "1h", "--lookup", "--trail-dir", s.trailDir)
	auditor.fails(exitArgument, "keygate: InvalidArgument: since: LookupEvents reaches back 90 days", "", "audit", "reconcile", "--since", "2400h", "--lookup")
	// CloudTrail unreachable: the run fails with the reason and prints no report.
	s.srv.Close()
	out, errOut, code = auditor.run("", "audit", "reconcile", "--since", "1h", "--lookup")
	if code == exitOK || code == exitInvalid || out != "" || !strings.Contains(errOut, "LookupEvents") {
		t.Errorf("CloudTrail down: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// keygated's own scheduled run: the summary is an audit event, the
// findings are logged warnings naming the caller.
func TestScheduledReconcile(t *testing.T) {
	var log harness.LogBuffer
	s := startKMSSession(t, harness.Options{Log: &log, ExtraConfig: "reconcile: {every: 1h, lookup: true, delivery_delay: 1ms}\n"})
	ctx := context.Background()
	ran, err := s.env.Server.Reconcile(ctx, time.Now())
	if err != nil || !ran {
		t.Fatalf("reconcile: ran %v, %v", ran, err)
	}
	evs, err := pb.NewAuditServiceClient(s.env.Conn("ds")).ListEvents(ctx, &pb.ListEventsRequest{Filter: &pb.EventFilter{Kind: "audit.reconciled"}})
	if err != nil || len(evs.Events) != 1 {
		t.Fatalf("reconciled events: %v %v", evs, err)
	}
	if d := evs.Events[0].Detail; !strings.Contains(d, "bypass=1 keygate-only=1 mismatched=0") || evs.Events[0].Result != "OK" {
		t.Errorf("summary event: %+v", evs.Events[0])
	}
	if l := log.String(); strings.Count(l, "CloudTrail reconciliation finding") != 2 || !strings.Contains(l, malloryARN) || !strings.Contains(l, s.dropped) {
		t.Errorf("server log:\n%s", l)
	}
	// Within the period this replica holds the lease and renews it; the
	// lease itself is tested in the server package. A CloudTrail that
	// cannot be reached fails the run, on the record.
	s.srv.Close()
	if ran, err := s.env.Server.Reconcile(ctx, time.Now()); !ran || err == nil {
		t.Fatalf("CloudTrail down: ran %v, %v", ran, err)
	}
	evs, _ = pb.NewAuditServiceClient(s.env.Conn("ds")).ListEvents(ctx, &pb.ListEventsRequest{Filter: &pb.EventFilter{Kind: "audit.reconciled", Result: "Unavailable"}})
	if len(evs.Events) != 1 {
		t.Errorf("failed run not audited: %v", evs)
	}
}
