package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/reconcile"
	"github.com/keygate/keygate/keys"
)

// ReconcileConfig runs CloudTrail reconciliation inside keygated, so a
// bypass is noticed within the hour: each run's summary becomes an audit
// event, each finding a logged warning. One replica at a time runs it,
// holding a lease in the shared store.
type ReconcileConfig struct {
	// Every is the period; 0 (the default) leaves it to `keygate audit reconcile`.
	Every time.Duration `yaml:"every"`
	// One source: LookupEvents, or the trail's files in S3 or a directory.
	Lookup   bool   `yaml:"lookup"`
	TrailS3  string `yaml:"trail_s3"`
	TrailDir string `yaml:"trail_dir"`
	// Region is CloudTrail's (default: the config's region).
	Region        string        `yaml:"region"`
	DeliveryDelay time.Duration `yaml:"delivery_delay"` // default 15m
	// KeygateRoles are keygated's own IAM identities (also learned from
	// matched records).
	KeygateRoles []string `yaml:"keygate_roles"`
}

func (r *ReconcileConfig) problems() []string {
	if r.Every == 0 {
		return nil
	}
	var p []string
	if r.Every < time.Minute {
		p = append(p, fmt.Sprintf("reconcile.every %s: at least 1m (LookupEvents allows 2 requests/s)", r.Every))
	}
	n := 0
	for _, set := range []bool{r.Lookup, r.TrailS3 != "", r.TrailDir != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		p = append(p, "reconcile: give exactly one of lookup: true, trail_s3, trail_dir")
	}
	if _, _, ok := reconcile.ParseS3URL(r.TrailS3); r.TrailS3 != "" && !ok {
		p = append(p, fmt.Sprintf("reconcile.trail_s3 %q: want s3://bucket/prefix", r.TrailS3))
	}
	if r.DeliveryDelay < 0 {
		p = append(p, "reconcile.delivery_delay must not be negative")
	}
	return p
}

// reconcileLease names the lease row the replicas compete for.
const reconcileLease = "cloudtrail-reconcile"

// reconcileLoop runs Reconcile every period until ctx ends.
func (s *Server) reconcileLoop(ctx context.Context) {
	every(ctx, s.cfg.Reconcile.Every, func() {
		if _, err := s.Reconcile(ctx, time.Now()); err != nil {
			s.log.Error("CloudTrail reconciliation failed", "err", err)
		}
	})
}

// Reconcile runs one scheduled reconciliation at now, if this replica wins
// the lease for the period; ran says whether it did. The window is the
// last period plus twice the delivery delay, so what was pending in one
// run is settled in the next.
func (s *Server) Reconcile(ctx context.Context, now time.Time) (ran bool, err error) {
	rc := s.cfg.Reconcile
	if s.chain == nil || rc.Every == 0 {
		return false, fmt.Errorf("reconcile: needs reconcile.every and the audit log")
	}
	won, err := s.lease(ctx, reconcileLease, s.cfg.Audit.Replica, now, rc.Every*9/10)
	if err != nil || !won {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, rc.Every)
	defer cancel()
	delay := rc.DeliveryDelay
	if delay == 0 {
		delay = reconcile.DefaultDeliveryDelay
	}
	rep, err := s.reconcileOnce(ctx, now, delay)
	if err != nil {
		// The failure is on the record too: an unreadable CloudTrail is
		// itself something an assessor asks about.
		rerr := s.chain.log.Record(ctx, &audit.Event{Kind: audit.KindReconciled, Replica: s.cfg.Audit.Replica,
			Action: "keygate:Reconcile", Result: "Unavailable", Error: "CloudTrail reconciliation failed"})
		if rerr != nil {
			s.log.Error("audit", "err", rerr)
		}
		return true, err
	}
	var counts []string
	for _, c := range reconcile.Classes {
		counts = append(counts, fmt.Sprintf("%s=%d", c, rep.Counts[c]))
	}
	detail := fmt.Sprintf("%s to %s from %s: %s", rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), rep.Source, strings.Join(counts, " "))
	for _, f := range rep.Findings {
		s.metrics.finding(string(f.Class))
		s.log.Warn("CloudTrail reconciliation finding", slog.String("class", string(f.Class)), slog.String("reason", f.Reason),
			slog.Time("time", f.Time), slog.String("operation", f.Operation), slog.String("key", f.KeyName), slog.String("key_arn", f.KeyARN),
			slog.String("request_id", f.RequestID), slog.String("event_id", f.EventID), slog.Uint64("seq", f.Seq),
			slog.String("identity", f.Identity), slog.String("source_ip", f.SourceIP), slog.String("vpc_endpoint_id", f.VPCEndpointID),
			slog.String("user_agent", f.UserAgent), slog.String("fields", strings.Join(f.Fields, "; ")))
	}
	s.log.Info("CloudTrail reconciliation", "summary", detail)
	return true, s.chain.log.Record(ctx, &audit.Event{Kind: audit.KindReconciled, Replica: s.cfg.Audit.Replica,
		Action: "keygate:Reconcile", Result: audit.ResultOK, Detail: detail})
}

func (s *Server) reconcileOnce(ctx context.Context, now time.Time, delay time.Duration) (*reconcile.Report, error) {
	rc := s.cfg.Reconcile
	var src reconcile.Source
	if rc.TrailDir != "" {
		src = reconcile.NewTrail(reconcile.DirObjects(rc.TrailDir))
	} else {
		region := rc.Region
		if region == "" {
			region = s.cfg.Region
		}
		awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return nil, err
		}
		if rc.Lookup {
			src = reconcile.NewLookup(cloudtrail.NewFromConfig(awsCfg, func(o *cloudtrail.Options) { o.Retryer = reconcile.LookupRetryer() }), nil)
		} else {
			bucket, prefix, _ := reconcile.ParseS3URL(rc.TrailS3)
			client := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = o.BaseEndpoint != nil })
			src = reconcile.NewTrail(reconcile.S3Objects{API: client, Bucket: bucket, Prefix: prefix})
		}
	}
	keys, err := s.reconcileKeys(ctx)
	if err != nil {
		return nil, err
	}
	return reconcile.Run(ctx, src, reconcile.Options{Since: now.Add(-rc.Every - 2*delay), Until: now, Now: now,
		DeliveryDelay: delay, KeygateRoles: rc.KeygateRoles, Keys: keys, Audit: reconcile.StoreAudit(s.auditStore)})
}

// reconcileKeys is the registry as reconciliation sees it.
func (s *Server) reconcileKeys(ctx context.Context) ([]reconcile.Key, error) {
	types := map[string]string{}
	for _, b := range s.cfg.Backends {
		types[b.Name] = b.Type
	}
	var out []reconcile.Key
	err := s.keys.Each(ctx, func(k *keys.Key) error {
		rk := reconcile.Key{Name: k.Name, Backend: k.Backend, KMS: types[k.Backend] == "kms"}
		for _, v := range k.Versions {
			if rk.KMS {
				rk.ARNs = append(rk.ARNs, v.BackendKeyID)
			}
		}
		out = append(out, rk)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
