package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// auditCommands read the tamper-evident audit log (AuditService); every
// read is itself audited. Verification is in auditverify.go.
var auditCommands = []*command{
	{path: "audit events", aliases: []string{"audit list"}, csv: true, summary: "list audit events, oldest first, filtered (every page)",
		detail: "--output csv prints a header row and one row per event (RFC 4180), for a\n" +
			"spreadsheet or a tool; values are exactly as logged. --key NAME filters by key\n" +
			"(the same as --key-name; give the client key file before the verb).",
		setup: func(fs *flag.FlagSet) action {
			filter := filterVar(fs)
			size := fs.Uint("page-size", 500, "events per request (1-1000)")
			limit := fs.Uint("limit", 0, "stop after this many events (0: all)")
			wide := fs.Bool("wide", false, "the table also shows the certificate subject and the policy statement (Sid) that decided")
			return func(ctx context.Context, e *env, _ []string) error {
				req := &pb.ListEventsRequest{PageSize: uint32(*size)}
				var err error
				if req.Filter, err = filter.proto(time.Now()); err != nil {
					return err
				}
				c, err := e.audit()
				if err != nil {
					return err
				}
				if err := filter.hashContext(ctx, c, req.Filter); err != nil {
					return err
				}
				var cw *eventCSV
				if e.g.output == "csv" {
					if cw, err = newEventCSV(e.stdout); err != nil {
						return err
					}
				}
				all := &pb.ListEventsResponse{}
				for n := uint(0); *limit == 0 || n < *limit; {
					resp, err := c.ListEvents(ctx, req)
					if err != nil {
						return err
					}
					page := resp.Events
					if *limit > 0 && n+uint(len(page)) > *limit {
						page = page[:*limit-n]
					}
					n += uint(len(page))
					if cw != nil { // rows as pages arrive: a year of events need not fit in memory
						if err := cw.write(page...); err != nil {
							return err
						}
					} else {
						all.Events = append(all.Events, page...)
					}
					if resp.NextPageToken == "" {
						break
					}
					req.PageToken = resp.NextPageToken
				}
				if cw != nil {
					return nil
				}
				if e.json() {
					return e.printJSON(all, nil)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
				head := "SEQ\tTIME\tKIND\tPRINCIPAL\tACTION\tKEY\tRESULT\tDECISION"
				if *wide {
					head += "\tSID\tSUBJECT"
				}
				fmt.Fprintln(tw, head)
				for _, ev := range all.Events {
					row := eventRow(ev, "\t")
					if *wide {
						row += "\t" + sanitizeText(dash(ev.Sid)) + "\t" + sanitizeText(dash(ev.CertSubject))
					}
					fmt.Fprintln(tw, row)
				}
				return tw.Flush()
			}
		}},
	{path: "audit tail", stream: true, csv: true, summary: "follow the audit log as events are committed (JSON lines with --output json)",
		detail: "Always follows, like tail -f: runs until interrupted, or --max-events, or an\n" +
			"explicit --timeout. -f and --follow are accepted for habit's sake.",
		setup: func(fs *flag.FlagSet) action {
			filter := filterVar(fs)
			follow := true
			fs.BoolVar(&follow, "f", true, "follow (the default; -f=false is refused: use audit events)")
			fs.BoolVar(&follow, "follow", true, "the same as -f")
			after := fs.Uint64("after-seq", 0, "start after this seq (default: the current end of the log)")
			max := fs.Uint("max-events", 0, "stop after this many events (0: never)")
			return func(ctx context.Context, e *env, _ []string) error {
				if !follow {
					return usageErr("audit tail always follows; for the events so far use audit events")
				}
				req := &pb.TailEventsRequest{AfterSeq: *after}
				var err error
				if req.Filter, err = filter.proto(time.Now()); err != nil {
					return err
				}
				c, err := e.audit()
				if err != nil {
					return err
				}
				if err := filter.hashContext(ctx, c, req.Filter); err != nil {
					return err
				}
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				stream, err := c.TailEvents(ctx, req)
				if err != nil {
					return err
				}
				var cw *eventCSV
				if e.g.output == "csv" {
					if cw, err = newEventCSV(e.stdout); err != nil {
						return err
					}
				}
				for n := uint(0); *max == 0 || n < *max; n++ {
					resp, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						return nil
					}
					if err != nil {
						return err
					}
					switch {
					case cw != nil:
						err = cw.write(resp.Event)
					case e.json():
						err = e.printJSONLine(resp.Event)
					default:
						_, err = fmt.Fprintln(e.stdout, eventRow(resp.Event, "  "))
					}
					if err != nil {
						return err
					}
				}
				return nil
			}
		}},
}

// filterFlags are the audit event filters.
type filterFlags struct {
	since, until, key, principal, action *string
	result, kind                         listFlag
	context                              contextFlag
}

func filterVar(fs *flag.FlagSet) *filterFlags {
	f := &filterFlags{
		since:     fs.String("since", "", "events at or after this time: RFC 3339, YYYY-MM-DD, or a duration ago such as 1h or 90d"),
		until:     fs.String("until", "", "events before this time: RFC 3339, YYYY-MM-DD, or a duration ago"),
		key:       fs.String("key-name", "", "only events about this key"),
		principal: fs.String("principal", "", "only events by this whole principal ARN (matched exactly)"),
		action:    fs.String("action", "", "only this action, with its prefix: kms:Sign, keygate:CreateAcsSession (matched exactly)"),
		context:   contextFlag{},
	}
	fs.Var(&f.result, "result", "only these results: OK or gRPC code names such as PermissionDenied; repeatable or a comma list")
	fs.Var(&f.kind, "kind", "only these kinds: call, key.created, policy.changed, server.started, audit.read, ...; repeatable or a comma list")
	fs.Var(f.context, "context", "only events whose encryption context has `k=v` (matched by the value's HMAC, as `audit context-hash` prints it); repeatable")
	fs.Var(f.context, "encryption-context", "the same as --context")
	fs.StringVar(f.key, "key-id", "", "the same as --key-name")
	fs.StringVar(f.key, "key", "", "deprecated: use --key-id")
	return f
}

// hashContext turns the --context values into the HMACs the log holds
// (the server's secret makes them), so the filter never carries a value.
func (f *filterFlags) hashContext(ctx context.Context, c pb.AuditServiceClient, p *pb.EventFilter) error {
	if len(f.context) == 0 {
		return nil
	}
	resp, err := c.HashContext(ctx, &pb.HashContextRequest{EncryptionContext: f.context})
	if err != nil {
		return err
	}
	p.EncryptionContext = resp.EncryptionContext
	return nil
}

func (f *filterFlags) proto(now time.Time) (*pb.EventFilter, error) {
	p := &pb.EventFilter{KeyName: *f.key, Principal: *f.principal, Action: *f.action, Results: f.result, Kinds: f.kind}
	var err error
	if p.Since, err = parseWhen(*f.since, "since", now); err != nil {
		return nil, err
	}
	if p.Until, err = parseWhen(*f.until, "until", now); err != nil {
		return nil, err
	}
	return p, nil
}

// parseWhen parses an RFC 3339 time, a date (midnight UTC: retention
// works in whole days) or a duration before now.
func parseWhen(s, name string, now time.Time) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return timestamppb.New(t), nil
		}
	}
	d, err := time.ParseDuration(s)
	if n, cut := strings.CutSuffix(s, "d"); cut { // days, as retention counts: 90d
		var days uint64
		if days, err = strconv.ParseUint(n, 10, 16); err == nil {
			d = time.Duration(days) * 24 * time.Hour
		}
	}
	if err != nil || d < 0 {
		return nil, usageErr("--%s %q: want an RFC 3339 time, a date YYYY-MM-DD or a duration ago such as 90m or 90d", name, s)
	}
	return timestamppb.New(now.Add(-d)), nil
}

// eventRow is one event on one line, for people.
func eventRow(ev *pb.AuditEvent, sep string) string {
	key := dash(ev.KeyName)
	if ev.KeyVersion > 0 {
		key = fmt.Sprintf("%s/v%d", ev.KeyName, ev.KeyVersion)
	}
	cols := []string{fmt.Sprint(ev.Seq), ev.Time.AsTime().UTC().Format("2006-01-02T15:04:05.000Z"), ev.Kind,
		dash(ev.Principal), dash(ev.Action), key, dash(ev.Result), dash(ev.Decision)}
	s := cols[0]
	for _, c := range cols[1:] {
		s += sep + sanitizeText(c) // caller-chosen text: never a raw newline, tab or escape
	}
	return s
}
