package server

import (
	"slices"
	"strings"

	"google.golang.org/grpc/codes"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
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
	if f.Kind != "" && !slices.Contains(eventKinds, audit.Kind(f.Kind)) {
		names := make([]string, len(eventKinds))
		for i, k := range eventKinds {
			names[i] = string(k)
		}
		return kgerr.Errorf(kgerr.InvalidArgument, "filter.kind %q is not an event kind; one of: %s", f.Kind, strings.Join(names, ", "))
	}
	if f.Result != "" && !slices.Contains(eventResults, f.Result) {
		return kgerr.Errorf(kgerr.InvalidArgument, "filter.result %q is not a result; one of: %s (results are matched exactly)",
			f.Result, strings.Join(eventResults, ", "))
	}
	if f.Action != "" && !strings.HasPrefix(f.Action, "kms:") && !strings.HasPrefix(f.Action, "keygate:") {
		return kgerr.Errorf(kgerr.InvalidArgument, "filter.action %q has no prefix: actions are matched exactly, as kms:%s or keygate:%s", f.Action, f.Action, f.Action)
	}
	// A whole principal as events hold it: an ARN the config can map (arnRE),
	// or keygated itself for the changes it makes on its own.
	if f.Principal != "" && f.Principal != "keygated" && !arnRE.MatchString(f.Principal) {
		return kgerr.Errorf(kgerr.InvalidArgument, "filter.principal %q is not a whole principal ARN (arn:aws:iam::ACCOUNT:role/NAME): principals are matched exactly", f.Principal)
	}
	return nil
}
