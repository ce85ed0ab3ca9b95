package reconcile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/reconcile"
	"github.com/keygate/keygate/test/kmsserver"
)

const keygatedRole = "arn:aws:iam::111122223333:role/keygated"

// scene is KMS traffic with both halves: keygate's calls (recorded as
// audit events made from the server's own records), one bypass by another
// identity, activity on a key keygate does not manage, and one keygate
// call whose CloudTrail record is dropped.
type scene struct {
	srv       *kmsserver.Server
	events    []*audit.Event
	keys      []reconcile.Key
	dropped   string // request id
	mismatch  string // request id whose keygate event says it failed
	bypassKey string
}

func newScene(t *testing.T) *scene {
	t.Helper()
	ctx := context.Background()
	srv := kmsserver.New(t)
	srv.SetPrincipal(kmsserver.TestAccessKeyID, keygatedRole)
	srv.SetPrincipal("AKIAMALLORY000000001", "arn:aws:iam::111122223333:user/mallory")
	keygated := kms.NewFromConfig(srv.AWSConfig())
	mallory := kms.NewFromConfig(srv.AWSConfig(), func(o *kms.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIAMALLORY000000001", "x", "")
	})
	managed, err := keygated.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keygated.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: managed.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err) // keygated opening the key: not audited call by call
	}
	other, err := keygated.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(managed.KeyMetadata.Arn)
	sign := func(c *kms.Client) {
		if _, err := c.Sign(ctx, &kms.SignInput{KeyId: aws.String(arn), Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"}); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		sign(keygated)
	}
	sign(mallory)
	if _, err := keygated.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: other.KeyMetadata.KeyId, Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"}); err != nil {
		t.Fatal(err)
	}
	s := &scene{srv: srv, bypassKey: arn, keys: []reconcile.Key{
		{Name: "acs-signing", Backend: "kms", KMS: true, ARNs: []string{arn}},
		{Name: "audit-checkpoint", Backend: "hsm"},
	}}
	// keygate's side: its audited calls on the managed key.
	seq := uint64(0)
	for _, r := range srv.Records() {
		if r.UserIdentity.ARN != keygatedRole || len(r.Resources) == 0 || r.Resources[0].ARN != arn || r.EventName == "DescribeKey" {
			continue
		}
		tm, _ := time.Parse(time.RFC3339, r.EventTime)
		seq++
		e := &audit.Event{Seq: seq, Time: tm.Add(300 * time.Millisecond), Kind: audit.KindCall, Action: "kms:" + r.EventName,
			KeyName: "acs-signing", BackendKeyID: arn, BackendRequestID: r.RequestID, Result: audit.ResultOK,
			Principal: "arn:aws:iam::111122223333:role/acs"}
		if r.EventName == "CreateKey" {
			e.Kind, e.Action = audit.KindKeyCreated, "kms:CreateKey"
		}
		s.events = append(s.events, e)
	}
	s.events = append(s.events, &audit.Event{Seq: seq + 1, Time: time.Now(), Kind: audit.KindCall, Action: "kms:Sign", KeyName: "audit-checkpoint", Result: audit.ResultOK})
	s.dropped = s.events[2].BackendRequestID
	if !srv.DropRecord(s.dropped) {
		t.Fatal("nothing dropped")
	}
	s.mismatch = s.events[3].BackendRequestID
	s.events[3].Result = "Unavailable"
	return s
}

func (s *scene) audit(_ context.Context, since, until time.Time, fn func(*audit.Event) error) error {
	for _, e := range s.events {
		if !e.Time.Before(since) && e.Time.Before(until) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *scene) options(now time.Time) reconcile.Options {
	return reconcile.Options{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Minute), Now: now,
		Keys: s.keys, Audit: s.audit, KeygateRoles: []string{keygatedRole}, Chunk: 7 * time.Minute}
}

// check asserts the scene's classes exactly.
func (s *scene) check(t *testing.T, rep *reconcile.Report, dropped reconcile.Class) {
	t.Helper()
	want := map[reconcile.Class]int{reconcile.Matched: 3, reconcile.Mismatched: 1, reconcile.Bypass: 1, dropped: 1,
		reconcile.Internal: 1, reconcile.Unmanaged: 2}
	for _, c := range reconcile.Classes {
		if rep.Counts[c] != want[c] && c != reconcile.Unreadable {
			t.Errorf("%s: %d, want %d (%+v)", c, rep.Counts[c], want[c], rep.Counts)
		}
	}
	for _, f := range rep.Findings {
		switch f.Class {
		case reconcile.Bypass:
			if f.Identity != "arn:aws:iam::111122223333:user/mallory" || f.KeyName != "acs-signing" || f.SourceIP != "127.0.0.1" ||
				!strings.Contains(f.UserAgent, "aws-sdk-go-v2") || f.Operation != "Sign" || f.Time.IsZero() {
				t.Errorf("bypass: %+v", f)
			}
		case reconcile.Mismatched:
			if f.RequestID != s.mismatch || len(f.Fields) != 1 || !strings.HasPrefix(f.Fields[0], "outcome") {
				t.Errorf("mismatched: %+v", f)
			}
		case reconcile.KeygateOnly:
			if f.RequestID != s.dropped || f.Seq != 3 {
				t.Errorf("keygate-only: %+v", f)
			}
		}
	}
	if len(rep.NoCloudTrail) != 1 || rep.NoCloudTrail[0].Name != "audit-checkpoint" || rep.NoCloudTrail[0].Calls != 1 {
		t.Errorf("no CloudTrail: %+v", rep.NoCloudTrail)
	}
	if !rep.Failed() {
		t.Error("a run with findings did not fail")
	}
}

func TestReconcileLookup(t *testing.T) {
	s := newScene(t)
	s.srv.SetLookupLimiter(nil)
	ct := cloudtrail.NewFromConfig(s.srv.AWSConfig(), func(o *cloudtrail.Options) { o.Retryer = reconcile.LookupRetryer() })
	// Throttled twice on the way: retried with backoff, not a failure.
	s.srv.Throttle("LookupEvents", 2)
	rep, err := reconcile.Run(context.Background(), reconcile.NewLookup(ct, nil), s.options(time.Now().Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	s.check(t, rep, reconcile.KeygateOnly)

	// Within the delivery delay the dropped record is pending, not a finding.
	rep, err = reconcile.Run(context.Background(), reconcile.NewLookup(ct, nil), s.options(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	s.check(t, rep, reconcile.Pending)
	if len(rep.Pending) != 1 || rep.Pending[0].RequestID != s.dropped {
		t.Fatalf("pending: %+v", rep.Pending)
	}
}

func TestReconcileTrailFiles(t *testing.T) {
	s := newScene(t)
	dir := t.TempDir()
	path, err := s.srv.WriteCloudTrail(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A file that is not gzip JSON, beside the real one: counted, the run goes on.
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "111122223333_CloudTrail_eu-west-1_20260101T0000Z_junk.json.gz"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	opt := s.options(time.Now().Add(time.Hour))
	opt.AllKeys = true
	rep, err := reconcile.Run(context.Background(), reconcile.NewTrail(reconcile.DirObjects(dir)), opt)
	if err != nil {
		t.Fatal(err)
	}
	s.check(t, rep, reconcile.KeygateOnly)
	if len(rep.Unmanaged) != 2 {
		t.Errorf("--all-keys lists %d unmanaged", len(rep.Unmanaged))
	}
	if rep.Counts[reconcile.Unreadable] != 0 {
		t.Errorf("junk dated outside the window was read: %+v", rep.Unreadable)
	}
	// The same junk named inside the window is read and reported.
	junk := filepath.Join(filepath.Dir(path), "111122223333_CloudTrail_eu-west-1_"+time.Now().UTC().Format("20060102T1504Z")+"_junk2.json.gz")
	if err := os.WriteFile(junk, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = reconcile.Run(context.Background(), reconcile.NewTrail(reconcile.DirObjects(dir)), opt)
	if err != nil {
		t.Fatal(err)
	}
	s.check(t, rep, reconcile.KeygateOnly)
	if rep.Counts[reconcile.Unreadable] != 1 || !strings.Contains(rep.Unreadable[0].Why, "not gzip") {
		t.Errorf("unreadable: %+v", rep.Unreadable)
	}
}

func TestReconcileBadInput(t *testing.T) {
	s := newScene(t)
	ct := cloudtrail.NewFromConfig(s.srv.AWSConfig())
	opt := s.options(time.Now())
	opt.Since, opt.Until = opt.Until, opt.Since
	if _, err := reconcile.Run(context.Background(), reconcile.NewLookup(ct, nil), opt); err == nil || !strings.Contains(err.Error(), "until") {
		t.Errorf("end before start: %v", err)
	}
	opt = s.options(time.Now())
	opt.Since = time.Now().Add(-100 * 24 * time.Hour)
	if _, err := reconcile.Run(context.Background(), reconcile.NewLookup(ct, nil), opt); err == nil || !strings.Contains(err.Error(), "90 days") {
		t.Errorf("beyond LookupEvents' reach: %v", err)
	}
	if _, err := reconcile.Run(context.Background(), reconcile.NewTrail(reconcile.DirObjects(t.TempDir())), s.options(time.Now())); err == nil {
		t.Error("an empty directory reconciled as a trail")
	}
	// CloudTrail throttling past the retries fails the run: no partial report.
	s.srv.Throttle("LookupEvents", 100)
	ct = cloudtrail.NewFromConfig(s.srv.AWSConfig(), func(o *cloudtrail.Options) { o.RetryMaxAttempts = 2 })
	if rep, err := reconcile.Run(context.Background(), reconcile.NewLookup(ct, nil), s.options(time.Now())); err == nil || rep != nil ||
		!strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("throttled past retries: %v, %v", rep, err)
	}
}
