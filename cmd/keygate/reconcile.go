package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/reconcile"
	"github.com/keygate/keygate/audit/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// reconcileCommands check the audit log against AWS CloudTrail.
var reconcileCommands = []*command{
	{path: "audit reconcile", stream: true, csv: true,
		summary: "reconcile keygate's KMS calls with CloudTrail: exit 1 on a bypass, a keygate-only call or a mismatch",
		detail: "CloudTrail is read with your own AWS credentials (the SDK's default chain;\n" +
			"AWS_ENDPOINT_URL_CLOUDTRAIL and AWS_ENDPOINT_URL_S3 are honoured), from one of\n" +
			"  --lookup                 LookupEvents (the last 90 days, 2 requests/s)\n" +
			"  --trail-dir DIR          the trail's log files copied locally (DIR holds AWSLogs/)\n" +
			"  --trail-s3 s3://B/P      the trail's bucket and prefix\n" +
			"keygate's side comes from the server (an auditor's certificate), or offline from\n" +
			"--db or --archive (the keys are then those the log shows being created).\n" +
			"Classes: matched, mismatched, keygate-only, pending (inside --delivery-delay),\n" +
			"bypass (a managed KMS key used without keygate), unmanaged (counted; listed\n" +
			"with --all-keys), keygate-internal, failure-not-logged, unreadable.\n" +
			"--output csv prints the findings (and pending/unmanaged rows) one per line.",
		setup: func(fs *flag.FlagSet) action {
			since := fs.String("since", "", "window start: RFC 3339, YYYY-MM-DD or a duration ago (required)")
			until := fs.String("until", "", "window end (default: now)")
			lookup := fs.Bool("lookup", false, "read CloudTrail through LookupEvents")
			trailDir := fs.String("trail-dir", "", "read the trail's log files from this directory")
			trailS3 := fs.String("trail-s3", "", "read the trail's log files from s3://bucket/prefix")
			delay := fs.Duration("delivery-delay", reconcile.DefaultDeliveryDelay, "CloudTrail's delivery delay: younger unmatched calls are pending")
			allKeys := fs.Bool("all-keys", false, "list activity on KMS keys keygate does not manage (otherwise counted)")
			roles := fs.String("keygate-role", "", "keygated's IAM role ARNs, comma-separated (also learned from matched records)")
			db := fs.String("db", "", "offline: keygate's database (SQLite file or postgres:// DSN, opened read-only)")
			archive := fs.String("archive", "", "offline: an exported audit archive (verify it first)")
			return func(ctx context.Context, e *env, _ []string) error {
				now := time.Now()
				opt := reconcile.Options{DeliveryDelay: *delay, AllKeys: *allKeys, Now: now,
					Progress: func(f string, a ...any) { fmt.Fprintf(e.stderr, "keygate: "+f+"\n", a...) }}
				if *roles != "" {
					opt.KeygateRoles = strings.Split(*roles, ",")
				}
				var err error
				if opt.Since, opt.Until, err = window(*since, *until, now); err != nil {
					return err
				}
				src, err := cloudTrailSource(ctx, *lookup, *trailDir, *trailS3, opt.Progress)
				if err != nil {
					return err
				}
				if opt.Keys, opt.Audit, err = e.keygateSide(ctx, *db, *archive); err != nil {
					return err
				}
				rep, err := reconcile.Run(ctx, src, opt)
				if err != nil {
					return err
				}
				switch e.g.output {
				case "json":
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					err = enc.Encode(rep)
				case "csv":
					err = writeFindingsCSV(e, rep)
				default:
					err = printReconcile(e, rep)
				}
				if err == nil && rep.Failed() {
					return errInvalid
				}
				return err
			}
		}},
}

// window parses --since and --until; until defaults to now.
func window(since, until string, now time.Time) (time.Time, time.Time, error) {
	if since == "" {
		return time.Time{}, time.Time{}, usageErr("--since is required")
	}
	s, err := parseWhen(since, "since", now)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	u := timestamppb.New(now)
	if until != "" {
		if u, err = parseWhen(until, "until", now); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	if !u.AsTime().After(s.AsTime()) {
		return time.Time{}, time.Time{}, usageErr("--until (%s) must be after --since (%s)", u.AsTime().Format(time.RFC3339), s.AsTime().Format(time.RFC3339))
	}
	return s.AsTime(), u.AsTime(), nil
}

// cloudTrailSource builds the one CloudTrail source asked for.
func cloudTrailSource(ctx context.Context, lookup bool, dir, s3url string, progress func(string, ...any)) (reconcile.Source, error) {
	n := 0
	for _, set := range []bool{lookup, dir != "", s3url != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, usageErr("give exactly one CloudTrail source: --lookup, --trail-dir DIR or --trail-s3 s3://bucket/prefix")
	}
	if dir != "" {
		return reconcile.NewTrail(reconcile.DirObjects(dir)), nil
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if lookup {
		return reconcile.NewLookup(cloudtrail.NewFromConfig(cfg, func(o *cloudtrail.Options) { o.Retryer = reconcile.LookupRetryer() }), progress), nil
	}
	bucket, prefix, ok := reconcile.ParseS3URL(s3url)
	if !ok {
		return nil, usageErr("--trail-s3 %q: want s3://bucket/prefix", s3url)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = o.BaseEndpoint != nil })
	return reconcile.NewTrail(reconcile.S3Objects{API: client, Bucket: bucket, Prefix: prefix}), nil
}

// keygateSide is the key registry and the audit events: from the server,
// or offline from a database or an archive.
func (e *env) keygateSide(ctx context.Context, db, archive string) ([]reconcile.Key, reconcile.AuditSource, error) {
	switch {
	case db != "" && archive != "":
		return nil, nil, usageErr("--db and --archive: pick one")
	case db != "":
		st, err := sqlstore.OpenReadOnly(ctx, db)
		if err != nil {
			return nil, nil, usageErr("--db: %v", err)
		}
		src := reconcile.StoreAudit(st)
		keys, err := reconcile.KeysFromLog(ctx, src)
		return keys, src, err
	case archive != "":
		src := reconcile.ArchiveAudit(archive)
		keys, err := reconcile.KeysFromLog(ctx, src)
		return keys, src, err
	}
	c, err := e.audit()
	if err != nil {
		return nil, nil, err
	}
	inv, err := c.GetInventory(ctx, &pb.GetInventoryRequest{})
	if err != nil {
		return nil, nil, err
	}
	return inventoryKeys(inv), onlineAudit(c), nil
}

func inventoryKeys(inv *pb.GetInventoryResponse) []reconcile.Key {
	var out []reconcile.Key
	for _, ik := range inv.Keys {
		k := reconcile.Key{Name: ik.Key.KeyId, Backend: ik.Key.Backend, KMS: ik.BackendType == "kms"}
		for _, v := range ik.Key.Versions {
			if k.KMS {
				k.ARNs = append(k.ARNs, v.BackendKeyId)
			}
		}
		out = append(out, k)
	}
	return out
}

// onlineAudit pages through ListEvents.
func onlineAudit(c pb.AuditServiceClient) reconcile.AuditSource {
	return func(ctx context.Context, since, until time.Time, fn func(*audit.Event) error) error {
		req := &pb.ListEventsRequest{PageSize: 1000, Filter: &pb.EventFilter{Since: timestamppb.New(since), Until: timestamppb.New(until)}}
		for {
			resp, err := c.ListEvents(ctx, req)
			if err != nil {
				return err
			}
			for _, ev := range resp.Events {
				if err := fn(eventOf(ev)); err != nil {
					return err
				}
			}
			if resp.NextPageToken == "" {
				return nil
			}
			req.PageToken = resp.NextPageToken
		}
	}
}

// eventOf is an event as reconciliation and the report read it (the
// hashes and the encryption context are not needed).
func eventOf(ev *pb.AuditEvent) *audit.Event {
	return &audit.Event{Seq: ev.Seq, Time: ev.Time.AsTime(), Kind: audit.Kind(ev.Kind), Replica: ev.Replica, Principal: ev.Principal,
		CertSubject: ev.CertSubject, CertSerial: ev.CertSerial, CertURI: ev.CertUri, Peer: ev.Peer, Action: ev.Action,
		KeyName: ev.KeyName, KeyVersion: ev.KeyVersion, BackendKeyID: ev.BackendKeyId, BackendRequestID: ev.BackendRequestId,
		Algorithm: ev.Algorithm, Decision: ev.Decision, Sid: ev.Sid, Result: ev.Result, Error: ev.Error, Correlation: ev.CorrelationId, Detail: ev.Detail}
}

func printReconcile(e *env, r *reconcile.Report) error {
	verdict := "clean"
	if r.Failed() {
		verdict = "FINDINGS"
	}
	fmt.Fprintf(e.stdout, "reconciliation %s: %s to %s against %s\n", verdict, r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339), r.Source)
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	for _, c := range reconcile.Classes {
		fmt.Fprintf(tw, "  %s\t%d\n", c, r.Counts[c])
	}
	tw.Flush()
	if len(r.KeygateRoles) > 0 {
		fmt.Fprintf(e.stdout, "keygate's identities: %s\n", strings.Join(r.KeygateRoles, ", "))
	}
	for _, k := range r.NoCloudTrail {
		fmt.Fprintf(e.stdout, "no CloudTrail: key %s (backend %s, PKCS#11): %d calls, audited by keygate only\n", k.Name, k.Backend, k.Calls)
	}
	for _, l := range []struct {
		title string
		fs    []reconcile.Finding
	}{{"findings", r.Findings}, {"pending", r.Pending}, {"unmanaged", r.Unmanaged}} {
		if len(l.fs) == 0 {
			continue
		}
		fmt.Fprintf(e.stdout, "%s:\n", l.title)
		for _, f := range l.fs {
			fmt.Fprintf(e.stdout, "  %s %s %s key %s (%s): %s\n", f.Time.Format(time.RFC3339), f.Class, f.Operation, dash(f.KeyName), dash(f.KeyARN), f.Reason)
			if f.Identity != "" && f.Class != reconcile.Mismatched {
				fmt.Fprintf(e.stdout, "      caller %s from %s%s, user agent %q\n", f.Identity, dash(f.SourceIP), vpce(f.VPCEndpointID), f.UserAgent)
			}
			seq := "-"
			if f.Seq > 0 {
				seq = fmt.Sprint(f.Seq)
			}
			fmt.Fprintf(e.stdout, "      request %s, CloudTrail event %s, keygate seq %s\n", dash(f.RequestID), dash(f.EventID), seq)
		}
	}
	for _, p := range r.Unreadable {
		fmt.Fprintf(e.stdout, "unreadable: %s: %s\n", p.Where, p.Why)
	}
	return nil
}

func vpce(id string) string {
	if id == "" {
		return ""
	}
	return " via " + id
}

// reconcileCSVHeader names the columns of writeFindingsCSV.
var reconcileCSVHeader = []string{"class", "time", "operation", "key_name", "key_arn", "request_id", "event_id", "seq",
	"principal", "identity", "source_ip", "vpc_endpoint_id", "user_agent", "error_code", "fields", "reason"}

func writeFindingsCSV(e *env, r *reconcile.Report) error {
	w := csv.NewWriter(e.stdout)
	_ = w.Write(reconcileCSVHeader)
	for _, l := range [][]reconcile.Finding{r.Findings, r.Pending, r.Unmanaged} {
		for _, f := range l {
			_ = w.Write(findingRow(f))
		}
	}
	w.Flush()
	return w.Error()
}

func findingRow(f reconcile.Finding) []string {
	seq := ""
	if f.Seq > 0 {
		seq = fmt.Sprint(f.Seq)
	}
	return []string{string(f.Class), f.Time.Format(time.RFC3339Nano), f.Operation, f.KeyName, f.KeyARN, f.RequestID, f.EventID, seq,
		f.Principal, f.Identity, f.SourceIP, f.VPCEndpointID, f.UserAgent, f.ErrorCode, strings.Join(f.Fields, "; "), f.Reason}
}
