package server

import (
	"context"
	"encoding/hex"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/policy"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// eventKinds and eventResults are every value an event's kind and result
// can hold: a filter naming anything else would match nothing, and an
// empty answer handed over as "no events" misleads.
var (
	eventKinds = []audit.Kind{audit.KindCall, audit.KindKeyCreated, audit.KindKeyEnabled, audit.KindKeyDisabled,
		audit.KindPolicyChanged, audit.KindCertImported, audit.KindKeyDestroyed, audit.KindServerStarted,
		audit.KindServerStopped, audit.KindAuditRead, audit.KindReconciled,
		audit.KindAuditResumed, audit.KindClockJumped, audit.KindHandshakeFailed, audit.KindAuditPruned, audit.KindConfigLoaded}
	eventResults = func() []string {
		out := []string{audit.ResultOK}
		for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
			out = append(out, c.String())
		}
		return out
	}()
)

// validFilter refuses a filter value no event can have, naming the field
// and what it may be; values are matched exactly, as documented.
func validFilter(f *pb.EventFilter) error {
	if f == nil {
		return nil
	}
	for _, k := range withOne(f.Kind, f.Kinds) {
		if !slices.Contains(eventKinds, audit.Kind(k)) {
			names := make([]string, len(eventKinds))
			for i, k := range eventKinds {
				names[i] = string(k)
			}
			return kgerr.Errorf(kgerr.InvalidArgument, "filter.kind %q is not an event kind; one of: %s", k, strings.Join(names, ", "))
		}
	}
	for _, r := range withOne(f.Result, f.Results) {
		if !slices.Contains(eventResults, r) {
			return kgerr.Errorf(kgerr.InvalidArgument, "filter.result %q is not a result; one of: %s (results are matched exactly)",
				r, strings.Join(eventResults, ", "))
		}
	}
	if f.Action != "" && !strings.HasPrefix(f.Action, "kms:") && !strings.HasPrefix(f.Action, "keygate:") {
		return kgerr.Errorf(kgerr.InvalidArgument, "filter.action %q has no prefix: actions are matched exactly, as kms:%s or keygate:%s", f.Action, f.Action, f.Action)
	}
	// A whole principal as events hold it: an ARN the config can map (arnRE),
	// or keygated itself for the changes it makes on its own.
	if f.Principal != "" && f.Principal != "keygated" && !arnRE.MatchString(f.Principal) {
		return kgerr.Errorf(kgerr.InvalidArgument, "filter.principal %q is not a whole principal ARN (arn:aws:iam::ACCOUNT:role/NAME): principals are matched exactly", f.Principal)
	}
	if f.Since != nil && f.Until != nil && !f.Since.AsTime().Before(f.Until.AsTime()) {
		return kgerr.Errorf(kgerr.InvalidArgument, "filter.since (%s) is not before filter.until (%s): no event can be in that window",
			f.Since.AsTime().UTC().Format("2006-01-02T15:04:05Z07:00"), f.Until.AsTime().UTC().Format("2006-01-02T15:04:05Z07:00"))
	}
	seen := map[string]bool{}
	for i, c := range f.EncryptionContext {
		switch {
		case c.Key == "" || strings.HasPrefix(c.Key, keys.ReservedPrefix):
			// The key is the caller's text: never echoed.
			return kgerr.Errorf(kgerr.InvalidArgument, "filter.encryption_context[%d].key is empty or reserved (%s…): no event's context has it", i, keys.ReservedPrefix)
		case seen[c.Key]:
			return kgerr.Errorf(kgerr.InvalidArgument, "filter.encryption_context[%d]: a key given twice matches nothing", i)
		case !isHMAC(c.ValueHmac):
			return kgerr.Errorf(kgerr.InvalidArgument, "filter.encryption_context[%d].value_hmac is not an HMAC: 64 hex digits, as `keygate audit context-hash` prints", i)
		}
		seen[c.Key] = true
	}
	return nil
}

// withOne is a filter's single value (if set) and its list.
func withOne(one string, more []string) []string {
	if one == "" {
		return more
	}
	return append([]string{one}, more...)
}

func isHMAC(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == 32
}

// checkNamed refuses a key name, principal or action that is well formed
// but that no event can have: not in the registry, the config or keygate's
// actions, and in no event of the log (a key since removed, a principal
// since unmapped, still match what they did).
func (as *auditService) checkNamed(ctx context.Context, f *pb.EventFilter) error {
	if f == nil {
		return nil
	}
	inLog := func(q audit.Query) (bool, error) {
		q.Limit = 1
		evs, err := as.s.chain.log.Events(ctx, q)
		if err != nil {
			return false, kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable")
		}
		return len(evs) > 0, nil
	}
	if f.KeyName != "" {
		_, err := as.s.keyStore.GetKey(ctx, f.KeyName)
		switch {
		case err == nil:
		case kgerr.KindOf(err) == kgerr.NotFound:
			if ok, err := inLog(audit.Query{KeyName: f.KeyName}); err != nil || !ok {
				return firstErr(err, kgerr.Errorf(kgerr.InvalidArgument, "filter.key_name %q: no key has that name and no event names it", f.KeyName))
			}
		default:
			return kgerr.Wrap(kgerr.Unavailable, err, "key registry unavailable")
		}
	}
	if f.Principal != "" && !as.s.configured(f.Principal) {
		if ok, err := inLog(audit.Query{Principal: f.Principal}); err != nil || !ok {
			return firstErr(err, kgerr.Errorf(kgerr.InvalidArgument, "filter.principal %q: the config maps no identity to it and no event has it", f.Principal))
		}
	}
	if f.Action != "" && !knownEventAction(f.Action) {
		if ok, err := inLog(audit.Query{Action: f.Action}); err != nil || !ok {
			return firstErr(err, kgerr.Errorf(kgerr.InvalidArgument, "filter.action %q is not an action of keygate's and no event has it (actions are case-sensitive: kms:Sign)", f.Action))
		}
	}
	return nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// configured reports whether arn is a principal of the config, or keygated.
func (s *Server) configured(arn string) bool {
	if arn == "keygated" || slices.Contains(s.cfg.Admins, arn) || slices.Contains(s.cfg.Auditors, arn) ||
		slices.Contains(s.cfg.Adopters, arn) || slices.Contains(s.cfg.ThreeDS.SdkServer.Principals, arn) {
		return true
	}
	for _, p := range s.cfg.Principals {
		if p.ARN == arn {
			return true
		}
	}
	return false
}

// knownEventAction: an action of the policy language, or one of the
// descriptor table (which is what calls are audited with).
func knownEventAction(a string) bool {
	if slices.Contains(policy.KMSActions(), a) || slices.Contains(policy.KeygateActions(), a) {
		return true
	}
	for _, d := range methods {
		if d.action == a {
			return true
		}
	}
	return false
}

// query is the store's part of a filter; the encryption context is
// matched on the decoded events (contextMatch).
func query(f *pb.EventFilter) audit.Query {
	if f == nil {
		return audit.Query{}
	}
	q := audit.Query{KeyName: f.KeyName, Principal: f.Principal, Action: f.Action}
	q.Results = withOne(f.Result, f.Results)
	for _, k := range withOne(f.Kind, f.Kinds) {
		q.Kinds = append(q.Kinds, audit.Kind(k))
	}
	if f.Since != nil {
		q.Since = f.Since.AsTime()
	}
	if f.Until != nil {
		q.Until = f.Until.AsTime()
	}
	return q
}
