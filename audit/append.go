package audit

import (
	"context"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// AppendEvent appends one event to s outside a Log, for a tool that runs
// without keygated: `keygate audit prune` records what it is about to
// delete in the chain before it deletes. It takes the store's chain lock
// like any writer, so a running keygated's events interleave with it, and
// the next checkpoint keygated signs covers it. e.Seq, PrevHash and Hash
// are set on success.
func AppendEvent(ctx context.Context, s Store, e *Event) error {
	if e.Kind == "" {
		return kgerr.Errorf(kgerr.InvalidArgument, "audit event: kind is empty")
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if len(e.Context) > 0 {
		return kgerr.Errorf(kgerr.InvalidArgument, "audit event: an appended event carries no encryption context")
	}
	if n := encodedSize(e); n > MaxEventSize {
		return kgerr.Errorf(kgerr.InvalidArgument, "audit event: %d bytes encoded, over the %d byte limit", n, MaxEventSize)
	}
	sanitize(e)
	_, err := s.Append(ctx, func(h Head) ([]Record, error) { return link(h, []*Event{e}), nil })
	return err
}
