package reconcile

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
)

// Source streams CloudTrail's KMS events.
type Source interface {
	// Events calls fn with each KMS event whose time is in [since, until),
	// in any order, possibly more than once (the engine dedupes by
	// eventID); unreadable files and records go to bad, and the run goes on.
	// An error ends the run: the source could not be read whole.
	Events(ctx context.Context, since, until time.Time, fn func(*Event) error, bad func(Problem)) error
	// Check refuses a window the source cannot cover (kgerr.InvalidArgument).
	Check(since, until, now time.Time) error
	// Name says what was read, for the report.
	Name() string
}

// AuditSource streams keygate's audit events with since <= Time < until,
// in seq order.
type AuditSource func(ctx context.Context, since, until time.Time, fn func(*audit.Event) error) error

// Key is a key in keygate's registry: its backend, and for a KMS backend
// the key ARNs of its versions.
type Key struct {
	Name    string
	Backend string
	KMS     bool     // the backend is AWS KMS
	ARNs    []string // KMS key ARNs of the versions
}

// Options tune a run. Since, Until, Keys and Audit are required.
type Options struct {
	Since, Until  time.Time
	Now           time.Time     // default time.Now()
	DeliveryDelay time.Duration // default 15m: younger unmatched keygate calls are pending
	Tolerance     time.Duration // default 2m: the fallback join's time window, and the chunks' overlap
	Chunk         time.Duration // default 6h: how much of the window is held at once
	KeygateRoles  []string      // keygated's IAM identities; also learned from matched records
	AllKeys       bool          // list unmanaged activity, not only count it
	Keys          []Key
	Audit         AuditSource
	Progress      func(format string, args ...any) // a line now and then on long windows
}

const (
	DefaultDeliveryDelay = 15 * time.Minute
	defaultTolerance     = 2 * time.Minute
	defaultChunk         = 6 * time.Hour
)

// metadataOps are the read-only calls keygated makes while opening a key,
// which it does not audit one by one.
var metadataOps = map[string]bool{"DescribeKey": true, "GetPublicKey": true, "GetKeyPolicy": true,
	"ListAliases": true, "ListKeys": true, "ListResourceTags": true, "GetKeyRotationStatus": true, "ListKeyPolicies": true}

// kgCall is one keygate audit event that reached KMS.
type kgCall struct {
	ev      *audit.Event
	matched bool
}

// run is the state of one reconciliation.
type run struct {
	opt      Options
	src      Source
	rep      *Report
	arns     map[string]string // managed key ARN -> key name
	nonKMS   map[string]*KeyUse
	roles    map[string]bool
	done     map[string]time.Time // request ids matched, with their keygate time
	carry    []*kgCall            // unmatched keygate calls near the last chunk's end
	usage    map[[2]string]int    // (ARN, operation) -> requests
	problems map[string]bool      // unreadable files and records already reported
	// imported are keys whose GetParametersForImport matched a keygate
	// call: keygated made them (CreateKey, Origin EXTERNAL) for that call.
	imported map[string]bool
}

// Run reconciles the window [opt.Since, opt.Until) against src.
func Run(ctx context.Context, src Source, opt Options) (*Report, error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	if opt.DeliveryDelay <= 0 {
		opt.DeliveryDelay = DefaultDeliveryDelay
	}
	if opt.Tolerance <= 0 {
		opt.Tolerance = defaultTolerance
	}
	if opt.Chunk <= 0 {
		opt.Chunk = defaultChunk
	}
	switch {
	case opt.Since.IsZero() || opt.Until.IsZero():
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "since and until are both required")
	case !opt.Until.After(opt.Since):
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "until (%s) must be after since (%s)", opt.Until.UTC().Format(time.RFC3339), opt.Since.UTC().Format(time.RFC3339))
	case opt.Audit == nil:
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "no audit source")
	}
	if err := src.Check(opt.Since, opt.Until, opt.Now); err != nil {
		return nil, err
	}
	r := &run{opt: opt, src: src, arns: map[string]string{}, nonKMS: map[string]*KeyUse{}, roles: map[string]bool{},
		done: map[string]time.Time{}, usage: map[[2]string]int{}, problems: map[string]bool{}, imported: map[string]bool{},
		rep: &Report{Since: opt.Since.UTC(), Until: opt.Until.UTC(), Source: src.Name(), Counts: map[Class]int{},
			Findings: []Finding{}, Pending: []Finding{}, Unmanaged: []Finding{}, Unreadable: []Problem{}, NoCloudTrail: []KeyUse{}}}
	for _, c := range Classes {
		r.rep.Counts[c] = 0
	}
	for _, k := range opt.Keys {
		if !k.KMS {
			r.nonKMS[k.Name] = &KeyUse{Name: k.Name, Backend: k.Backend}
		}
		for _, a := range k.ARNs {
			r.arns[a] = k.Name
		}
	}
	for _, role := range opt.KeygateRoles {
		r.roles[roleOf(role)] = true
	}
	for cs := opt.Since; cs.Before(opt.Until); cs = cs.Add(opt.Chunk) {
		ce := cs.Add(opt.Chunk)
		if ce.After(opt.Until) {
			ce = opt.Until
		}
		if err := r.chunk(ctx, cs, ce, !ce.Before(opt.Until)); err != nil {
			return nil, err
		}
	}
	r.finish()
	return r.rep, nil
}

// chunk reconciles CloudTrail's events in [cs, ce) against keygate's in
// [cs-tol, ce+tol); the first chunk also reads CloudTrail from since-tol and
// the last up to until+tol, so a call near an edge finds its other half.
func (r *run) chunk(ctx context.Context, cs, ce time.Time, last bool) error {
	tol := r.opt.Tolerance
	byReq := map[string]*kgCall{}
	var noReq []*kgCall // failed before KMS answered: joined by (operation, ARN, time)
	var owned []*kgCall // this chunk's own calls, to classify when unmatched
	prev := r.carry
	for _, c := range prev {
		byReq[c.ev.BackendRequestID] = c
	}
	err := r.opt.Audit(ctx, cs.Add(-tol), ce.Add(tol), func(e *audit.Event) error {
		own := !e.Time.Before(cs) && e.Time.Before(ce)
		if own {
			if u := r.nonKMS[e.KeyName]; u != nil && e.Kind == audit.KindCall {
				u.Calls++
			}
		}
		if e.BackendRequestID == "" {
			if isKeyARN(e.BackendKeyID) && e.Result != audit.ResultOK && e.Kind == audit.KindCall {
				noReq = append(noReq, &kgCall{ev: e})
			}
			return nil
		}
		if _, seen := r.done[e.BackendRequestID]; seen {
			return nil
		}
		if byReq[e.BackendRequestID] != nil {
			return nil // carried from the last chunk
		}
		c := &kgCall{ev: e}
		byReq[e.BackendRequestID] = c
		if own {
			owned = append(owned, c)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading keygate's audit log: %w", err)
	}
	from, to := cs, ce
	if cs.Equal(r.opt.Since) {
		from = cs.Add(-tol)
	}
	if last {
		to = ce.Add(tol)
	}
	seen := map[string]bool{}
	var unmatched []*Event
	n := 0
	err = r.src.Events(ctx, from, to, func(ev *Event) error {
		if ev.EventSource != kmsSource || seen[ev.EventID] {
			return nil
		}
		seen[ev.EventID] = true
		if n++; n%10000 == 0 {
			r.progress("%s: %d CloudTrail events read in %s…", r.src.Name(), n, cs.UTC().Format(time.RFC3339))
		}
		inWindow := !ev.Time.Before(r.opt.Since) && ev.Time.Before(r.opt.Until)
		if c := byReq[ev.RequestID]; c != nil && ev.RequestID != "" {
			if !c.matched {
				c.matched = true
				r.done[ev.RequestID] = c.ev.Time
				r.matched(c.ev, ev)
			}
			if ev.EventName == "GetParametersForImport" && ev.ErrorCode == "" {
				for _, a := range ev.KeyARNs {
					r.imported[a] = true
				}
			}
			return nil
		}
		if !inWindow {
			return nil // an edge event only joins; it is classified by the run that owns its time
		}
		if _, ok := r.managed(ev); !ok {
			r.unmanaged(ev)
			return nil
		}
		unmatched = append(unmatched, ev)
		return nil
	}, r.bad)
	if err != nil {
		return fmt.Errorf("reading CloudTrail (%s): %w", r.src.Name(), err)
	}
	r.progress("%s: %s to %s: %d CloudTrail events", r.src.Name(), cs.UTC().Format(time.RFC3339), ce.UTC().Format(time.RFC3339), n)
	for _, ev := range unmatched {
		r.cloudTrailOnly(ev, noReq)
	}
	// keygate's unmatched calls: those within tol of the chunk's end may
	// still meet their record in the next chunk.
	r.carry = nil
	for _, c := range append(owned, prev...) {
		switch {
		case c.matched:
		case !last && !c.ev.Time.Before(ce.Add(-tol)):
			r.carry = append(r.carry, c)
		default:
			r.keygateOnly(c.ev)
		}
	}
	for id, t := range r.done { // forget what can no longer recur
		if t.Before(cs.Add(-2 * tol)) {
			delete(r.done, id)
		}
	}
	return nil
}

func (r *run) managed(ev *Event) (string, bool) {
	for _, a := range ev.KeyARNs {
		if name, ok := r.arns[a]; ok {
			return name, true
		}
	}
	return "", false
}

// matched compares the two halves of one call.
func (r *run) matched(k *audit.Event, ev *Event) {
	r.roles[roleOf(ev.Identity)] = true
	if !k.Time.Before(r.opt.Since) && k.Time.Before(r.opt.Until) {
		r.count(ev)
	} else {
		return // the edge of the window: counted by the run that owns it
	}
	var fields []string
	if op, ok := strings.CutPrefix(k.Action, "kms:"); ok && op != ev.EventName {
		fields = append(fields, fmt.Sprintf("operation (keygate %s, CloudTrail %s)", op, ev.EventName))
	}
	if isKeyARN(k.BackendKeyID) && !slices.Contains(ev.KeyARNs, k.BackendKeyID) {
		fields = append(fields, fmt.Sprintf("key (keygate %s, CloudTrail %s)", k.BackendKeyID, strings.Join(ev.KeyARNs, " ")))
	}
	if (k.Result == audit.ResultOK) != (ev.ErrorCode == "") {
		fields = append(fields, fmt.Sprintf("outcome (keygate %s, CloudTrail %s)", k.Result, orOK(ev.ErrorCode)))
	}
	if len(fields) == 0 {
		r.rep.Counts[Matched]++
		return
	}
	f := r.finding(Mismatched, ev, k)
	f.Fields = fields
	f.Reason = "the same request differs in " + strings.Join(fields, ", ")
	r.add(f)
}

// cloudTrailOnly classifies a record on a managed key with no keygate event.
func (r *run) cloudTrailOnly(ev *Event, noReq []*kgCall) {
	r.count(ev)
	for _, c := range noReq {
		k := c.ev
		if !c.matched && strings.TrimPrefix(k.Action, "kms:") == ev.EventName && slices.Contains(ev.KeyARNs, k.BackendKeyID) &&
			k.Time.Sub(ev.Time).Abs() <= r.opt.Tolerance {
			c.matched = true // a keygate call that failed before KMS's answer reached it
			r.rep.Counts[Matched]++
			return
		}
	}
	f := r.finding(Bypass, ev, nil)
	switch {
	case !r.roles[roleOf(ev.Identity)]:
		f.Reason = "used by an identity that is not keygate's"
	case ev.ReadOnly && metadataOps[ev.EventName]:
		r.rep.Counts[Internal]++
		return
	case ev.EventName == "CreateKey" && slices.ContainsFunc(ev.KeyARNs, func(a string) bool { return r.imported[a] }):
		// The key a KMS import's parameters are for: keygated makes it
		// within the audited GetParametersForImport call (BYOK).
		r.rep.Counts[Internal]++
		return
	default:
		f.Reason = "keygate's own identity, but no keygate event: a call outside keygate with its credentials"
	}
	r.add(f)
}

func (r *run) unmanaged(ev *Event) {
	r.rep.Counts[Unmanaged]++
	if r.opt.AllKeys {
		f := r.finding(Unmanaged, ev, nil)
		f.Reason = "a key keygate does not manage"
		r.rep.Unmanaged = append(r.rep.Unmanaged, f)
	}
}

// keygateOnly classifies a keygate call that CloudTrail never showed.
func (r *run) keygateOnly(k *audit.Event) {
	f := Finding{Time: k.Time.UTC(), Operation: strings.TrimPrefix(k.Action, "kms:"), KeyName: k.KeyName, KeyARN: k.BackendKeyID,
		RequestID: k.BackendRequestID, Seq: k.Seq, Principal: k.Principal}
	switch {
	case k.Result != audit.ResultOK:
		r.rep.Counts[Unlogged]++
	case k.Time.After(r.opt.Now.Add(-r.opt.DeliveryDelay)):
		f.Class, f.Reason = Pending, "inside CloudTrail's delivery delay"
		r.rep.Counts[Pending]++
		r.rep.Pending = append(r.rep.Pending, f)
	default:
		f.Class, f.Reason = KeygateOnly, "keygate recorded this KMS call; CloudTrail has no record of it"
		r.add(f)
	}
}

func (r *run) finding(c Class, ev *Event, k *audit.Event) Finding {
	f := Finding{Class: c, Time: ev.Time, Operation: ev.EventName, RequestID: ev.RequestID, EventID: ev.EventID,
		Identity: ev.Identity, SourceIP: ev.SourceIP, VPCEndpointID: ev.VPCEndpointID, UserAgent: ev.UserAgent, ErrorCode: ev.ErrorCode}
	if len(ev.KeyARNs) > 0 {
		f.KeyARN = ev.KeyARNs[0]
	}
	f.KeyName, _ = r.managed(ev)
	if k != nil {
		f.Seq, f.Principal, f.KeyName = k.Seq, k.Principal, k.KeyName
	}
	return f
}

func (r *run) add(f Finding) {
	r.rep.Counts[f.Class]++
	r.rep.Findings = append(r.rep.Findings, f)
}

// count adds a managed key's request to the usage table.
func (r *run) count(ev *Event) {
	for _, a := range ev.KeyARNs {
		if _, ok := r.arns[a]; ok {
			r.usage[[2]string{a, ev.EventName}]++
			return
		}
	}
}

func (r *run) bad(p Problem) {
	// A bad file shows in every chunk that reads it: report it once.
	if r.problems[p.Where] {
		return
	}
	if len(r.problems) < 100*maxProblems {
		r.problems[p.Where] = true
	}
	r.rep.Counts[Unreadable]++
	if len(r.rep.Unreadable) < maxProblems {
		r.rep.Unreadable = append(r.rep.Unreadable, p)
	}
}

func (r *run) progress(format string, args ...any) {
	if r.opt.Progress != nil {
		r.opt.Progress(format, args...)
	}
}

// finish sorts the lists and fills the summaries.
func (r *run) finish() {
	for _, c := range r.carry {
		r.keygateOnly(c.ev)
	}
	for _, u := range r.nonKMS {
		r.rep.NoCloudTrail = append(r.rep.NoCloudTrail, *u)
	}
	sort.Slice(r.rep.NoCloudTrail, func(i, j int) bool { return r.rep.NoCloudTrail[i].Name < r.rep.NoCloudTrail[j].Name })
	for role := range r.roles {
		r.rep.KeygateRoles = append(r.rep.KeygateRoles, role)
	}
	sort.Strings(r.rep.KeygateRoles)
	for k, n := range r.usage {
		r.rep.KMSRequests = append(r.rep.KMSRequests, Usage{KeyName: r.arns[k[0]], KeyARN: k[0], Operation: k[1], Requests: n})
	}
	sort.Slice(r.rep.KMSRequests, func(i, j int) bool {
		a, b := r.rep.KMSRequests[i], r.rep.KMSRequests[j]
		return a.KeyName < b.KeyName || a.KeyName == b.KeyName && (a.KeyARN < b.KeyARN || a.KeyARN == b.KeyARN && a.Operation < b.Operation)
	})
	for _, l := range [][]Finding{r.rep.Findings, r.rep.Pending, r.rep.Unmanaged} {
		sort.SliceStable(l, func(i, j int) bool { return l[i].Time.Before(l[j].Time) })
	}
}

func orOK(code string) string {
	if code == "" {
		return "OK"
	}
	return code
}
