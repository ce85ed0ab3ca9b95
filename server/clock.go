package server

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/keygate/keygate/audit"
)

// clock is keygated's wall clock: the time of audit events, policies'
// aws:CurrentTime, cryptoperiods, 3DS session expiry. It is time.Now
// shifted by an offset that only a test build can set (go build -tags
// keygate_testclock: /debug/clock on the loopback pprof listener,
// clock_testclock.go), so test/faults can make the real binary's clock
// jump; in a production build nothing can change it.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// jumpThreshold is how far the wall clock may move against the monotonic
// clock between two looks before keygated calls it a jump. NTP slews by
// far less than this; a step, a VM resumed or an operator's date command
// do not.
const jumpThreshold = time.Second

// watchClock looks at the wall clock every interval until ctx ends and,
// when it moved more or less than the monotonic clock did by over
// jumpThreshold, records a clock.jumped event in the audit log (and logs
// it): the events after it carry times of the new clock, and a reader of
// the chain sees where and by how much times stop following each other.
func (s *Server) watchClock(ctx context.Context, interval time.Duration) {
	// Round(0) strips the monotonic reading, so Sub compares wall times.
	lastWall, lastMono := s.now().Round(0), time.Now()
	every(ctx, interval, func() {
		wall, mono := s.now().Round(0), time.Now()
		jump := wall.Sub(lastWall) - mono.Sub(lastMono)
		lastWall, lastMono = wall, mono
		if jump < jumpThreshold && jump > -jumpThreshold {
			return
		}
		detail := fmt.Sprintf("the wall clock jumped %s against the monotonic clock (now %s); events from here on carry times of the new clock",
			jump.Round(time.Millisecond), wall.UTC().Format(time.RFC3339Nano))
		s.log.Warn("clock jumped", "by", jump.Round(time.Millisecond), "now", wall.UTC())
		if s.chain == nil {
			return
		}
		// A jump that cannot be recorded now (the log is down) is still
		// logged above; the readiness gate refuses calls meanwhile.
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := s.chain.event(rctx, audit.KindClockJumped, detail); err != nil {
			s.log.Error("recording a clock jump", "err", err)
		}
	})
}
