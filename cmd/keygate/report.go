package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/reconcile"
	evidence "github.com/keygate/keygate/audit/report"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// reportCommands make and check the evidence pack for the assessor.
var reportCommands = []*command{
	{path: "report", stream: true,
		summary: "write the evidence pack for the PCI assessor: index.html, CSVs, a signed manifest",
		detail: "Reads the key registry and the audit log through the server (an auditor's\n" +
			"certificate is enough) and writes DIR: index.html (self-contained, prints\n" +
			"cleanly), keys.csv, access.csv, usage.csv, denials.csv, changes.csv,\n" +
			"reconciliation.csv, kms-requests.csv, checkpoint-key.pem, and manifest.json\n" +
			"with each file's SHA-256, signed by the audit checkpoint key\n" +
			"(manifest.json.sig). With --lookup, --trail-dir or --trail-s3 the pack\n" +
			"includes a CloudTrail reconciliation of the window. Check a pack with\n" +
			"  keygate report verify DIR --checkpoint-key key.pem",
		setup: func(fs *flag.FlagSet) action {
			since := fs.String("since", "", "window start: RFC 3339, YYYY-MM-DD or a duration ago (required)")
			until := fs.String("until", "", "window end (default: now)")
			out := fs.String("out", "", "the pack's directory (must not exist, or be empty)")
			force := fs.Bool("force", false, "replace a previous pack in --out")
			lookup := fs.Bool("lookup", false, "reconcile with CloudTrail through LookupEvents")
			trailDir := fs.String("trail-dir", "", "reconcile with the trail's log files in this directory")
			trailS3 := fs.String("trail-s3", "", "reconcile with the trail's log files at s3://bucket/prefix")
			delay := fs.Duration("delivery-delay", reconcile.DefaultDeliveryDelay, "CloudTrail's delivery delay (reconciliation)")
			return func(ctx context.Context, e *env, _ []string) error {
				if *out == "" {
					return usageErr("--out DIR is required")
				}
				now := time.Now()
				in := evidence.Input{Generated: now.UTC()}
				var err error
				if in.Since, in.Until, err = window(*since, *until, now); err != nil {
					return err
				}
				c, err := e.audit()
				if err != nil {
					return err
				}
				inv, err := c.GetInventory(ctx, &pb.GetInventoryRequest{})
				if err != nil {
					return err
				}
				in.Keys, in.Callers, in.Admins, in.Auditors = reportKeys(inv), inv.Principals, inv.Admins, inv.Auditors
				if *lookup || *trailDir != "" || *trailS3 != "" {
					opt := reconcile.Options{Since: in.Since, Until: in.Until, Now: now, DeliveryDelay: *delay,
						Keys: inventoryKeys(inv), Audit: onlineAudit(c),
						Progress: func(f string, a ...any) { fmt.Fprintf(e.stderr, "keygate: "+f+"\n", a...) }}
					src, err := cloudTrailSource(ctx, *lookup, *trailDir, *trailS3, opt.Progress)
					if err != nil {
						return err
					}
					if in.Recon, err = reconcile.Run(ctx, src, opt); err != nil {
						return err
					}
				}
				if in.Verify, err = verification(ctx, c); err != nil {
					return err
				}
				b := evidence.NewBuilder(in)
				if err := onlineAudit(c)(ctx, in.Since, in.Until, func(ev *audit.Event) error { b.Add(ev); return nil }); err != nil {
					return err
				}
				sign := func(ctx context.Context, m []byte) ([]byte, string, error) {
					resp, err := c.SignReportManifest(ctx, &pb.SignReportManifestRequest{Manifest: m})
					if err != nil {
						return nil, "", err
					}
					return resp.Signature, resp.KeyId, nil
				}
				d := b.Data()
				if err := evidence.Write(ctx, *out, d, sign, *force); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "evidence pack written to %s: %d calls, %d denials, %d changes; audit log %s\n",
					*out, d.Calls, len(d.Denials), len(d.Changes), map[bool]string{true: "intact", false: "BROKEN"}[d.Verify.OK])
				if d.Recon != nil && d.Recon.Failed() {
					fmt.Fprintf(e.stdout, "CloudTrail reconciliation has findings: see section 7\n")
				}
				return nil
			}
		}},
	{path: "report verify", args: []string{"DIR"}, summary: "check an evidence pack's signature and every file's SHA-256: exit 1 when altered",
		detail: "Needs no server: the checkpoint public key (keygate audit checkpoint-key),\n" +
			"given by the assessor's own copy, not the pack's. The same check with openssl:\n" +
			"  (printf 'keygate-report-manifest-v1\\0'; cat DIR/manifest.json) |\n" +
			"    openssl dgst -sha256 -verify key.pem -signature DIR/manifest.json.sig\n" +
			"  then sha256sum each file against manifest.json.",
		setup: func(fs *flag.FlagSet) action {
			keyFile := fs.String("checkpoint-key", "", "the audit checkpoint public key (PEM) (required)")
			return func(ctx context.Context, e *env, args []string) error {
				if *keyFile == "" {
					return usageErr("--checkpoint-key PEM is required")
				}
				pemKey, err := e.read("checkpoint-key", *keyFile)
				if err != nil {
					return err
				}
				m, err := evidence.Verify(args[0], pemKey)
				if err != nil {
					fmt.Fprintf(e.stdout, "evidence pack %s: INVALID: %v\n", args[0], err)
					return errInvalid
				}
				fmt.Fprintf(e.stdout, "evidence pack %s: intact: %d files, window %s to %s, audit head seq %d, signed by key %s\n",
					args[0], len(m.Files), m.Since.Format(time.RFC3339), m.Until.Format(time.RFC3339), m.AuditHead.Seq, m.KeyID)
				return nil
			}
		}},
}

// reportKeys is the inventory as the report shows it.
func reportKeys(inv *pb.GetInventoryResponse) []evidence.Key {
	var out []evidence.Key
	for _, ik := range inv.Keys {
		k := ik.Key
		rk := evidence.Key{Name: k.KeyId, ARN: k.Arn, Description: k.Description, Spec: k.KeySpec, Usage: k.KeyUsage,
			Backend: k.Backend, BackendType: ik.BackendType, FIPS: ik.FipsLevel, State: k.KeyState, Created: k.CreateTime.AsTime(), Policy: ik.Policy,
			Own: ik.OwnKey}
		for _, v := range k.Versions {
			rv := evidence.Version{Number: v.Version, State: v.State, BackendKeyID: v.BackendKeyId, Created: v.CreateTime.AsTime(), Origin: v.Origin}
			if t := v.TokenAttributes; t != nil {
				rv.Token = &keys.TokenAttrs{Local: t.Local, NeverExtractable: t.NeverExtractable, AlwaysSensitive: t.AlwaysSensitive}
			}
			rk.Versions = append(rk.Versions, rv)
			if t := v.CreateTime.AsTime(); v.Version > 1 && t.After(rk.Rotated) {
				rk.Rotated = t // a key never rotated has only version 1
			}
			if v.RotationDueTime != nil && (rk.Due.IsZero() || v.RotationDueTime.AsTime().Before(rk.Due)) {
				rk.Due = v.RotationDueTime.AsTime()
			}
		}
		out = append(out, rk)
	}
	return out
}

// verification is the log's verification and the checkpoint key.
func verification(ctx context.Context, c pb.AuditServiceClient) (evidence.Verification, error) {
	vr, err := c.VerifyLog(ctx, &pb.VerifyLogRequest{})
	if err != nil {
		return evidence.Verification{}, err
	}
	ck, err := c.GetCheckpointKey(ctx, &pb.GetCheckpointKeyRequest{})
	if err != nil {
		return evidence.Verification{}, err
	}
	v := evidence.Verification{OK: vr.Ok, Events: vr.Events, Checkpoints: uint64(vr.Checkpoints), HeadSeq: vr.HeadSeq,
		HeadHash: hex.EncodeToString(vr.HeadHash), Protected: vr.Protected, Unprotected: vr.Unprotected,
		KeyID: ck.KeyId, PublicKeyPEM: ck.PublicKeyPem}
	for _, p := range vr.Problems {
		v.Problems = append(v.Problems, fmt.Sprintf("seq %d: %s: %s", p.Seq, p.Kind, p.Message))
	}
	return v, nil
}
