package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// auditCommands read the tamper-evident audit log (AuditService); every
// read is itself audited. Verification is in auditverify.go.
var auditCommands = []*command{
	{path: "audit list", summary: "list audit events, oldest first, filtered (every page)",
		setup: func(fs *flag.FlagSet) action {
			filter := filterVar(fs)
			size := fs.Uint("page-size", 500, "events per request (1-1000)")
			limit := fs.Uint("limit", 0, "stop after this many events (0: all)")
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
				all := &pb.ListEventsResponse{}
				for *limit == 0 || uint(len(all.Events)) < *limit {
					resp, err := c.ListEvents(ctx, req)
					if err != nil {
						return err
					}
					all.Events = append(all.Events, resp.Events...)
					if resp.NextPageToken == "" {
						break
					}
					req.PageToken = resp.NextPageToken
				}
				if *limit > 0 && uint(len(all.Events)) > *limit {
					all.Events = all.Events[:*limit]
				}
				if e.json() {
					return e.printJSON(all, nil)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tPRINCIPAL\tACTION\tKEY\tRESULT\tDECISION")
				for _, ev := range all.Events {
					fmt.Fprintln(tw, eventRow(ev, "\t"))
				}
				return tw.Flush()
			}
		}},
	{path: "audit tail", stream: true, summary: "follow the audit log as events are committed (JSON lines with --output json)",
		detail: "Runs until interrupted, or --max-events, or an explicit --timeout.",
		setup: func(fs *flag.FlagSet) action {
			filter := filterVar(fs)
			after := fs.Uint64("after-seq", 0, "start after this seq (default: the current end of the log)")
			max := fs.Uint("max-events", 0, "stop after this many events (0: never)")
			return func(ctx context.Context, e *env, _ []string) error {
				req := &pb.TailEventsRequest{AfterSeq: *after}
				var err error
				if req.Filter, err = filter.proto(time.Now()); err != nil {
					return err
				}
				c, err := e.audit()
				if err != nil {
					return err
				}
				ctx, cancel := context.WithCancel(ctx)
				defer cancel()
				stream, err := c.TailEvents(ctx, req)
				if err != nil {
					return err
				}
				for n := uint(0); *max == 0 || n < *max; n++ {
					resp, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						return nil
					}
					if err != nil {
						return err
					}
					if e.json() {
						err = e.printJSONLine(resp.Event)
					} else {
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
	since, until, key, principal, action, result, kind *string
}

func filterVar(fs *flag.FlagSet) *filterFlags {
	return &filterFlags{
		since:     fs.String("since", "", "events at or after this time: RFC 3339, or a duration ago such as 1h"),
		until:     fs.String("until", "", "events before this time: RFC 3339, or a duration ago"),
		key:       fs.String("key-name", "", "only events about this key"),
		principal: fs.String("principal", "", "only events by this principal ARN"),
		action:    fs.String("action", "", "only this action, e.g. kms:Sign"),
		result:    fs.String("result", "", "only this result: OK or a gRPC code name such as PermissionDenied"),
		kind:      fs.String("kind", "", "only this kind: call, key.created, policy.changed, server.started, audit.read, ..."),
	}
}

func (f *filterFlags) proto(now time.Time) (*pb.EventFilter, error) {
	p := &pb.EventFilter{KeyName: *f.key, Principal: *f.principal, Action: *f.action, Result: *f.result, Kind: *f.kind}
	var err error
	if p.Since, err = parseWhen(*f.since, "since", now); err != nil {
		return nil, err
	}
	if p.Until, err = parseWhen(*f.until, "until", now); err != nil {
		return nil, err
	}
	return p, nil
}

// parseWhen parses an RFC 3339 time or a duration before now.
func parseWhen(s, name string, now time.Time) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return timestamppb.New(t), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return nil, usageErr("--%s %q: want an RFC 3339 time or a duration ago such as 90m", name, s)
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
		s += sep + c
	}
	return s
}
