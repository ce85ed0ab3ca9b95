package server

import (
	"context"
	"time"
)

// every runs fn each interval until ctx ends: the shape of keygated's
// background loops (file watch, session sweep, reconciliation, rotation
// check, handshake audit, readiness probes, clock watch, checkpoint
// watch). A loop that must also run at once calls fn first itself.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
