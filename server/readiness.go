package server

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

// Readiness is whether keygated can answer calls now, and if not, why.
// The overall gRPC health (service "") reports it; a load balancer sends
// traffic only to a ready replica. Liveness is the process itself: every
// cause below clears by itself once the dependency returns.
type Readiness struct {
	Ready   bool
	Reasons []string // empty when Ready: "audit log cannot commit", "no backend can serve", "draining"
	// Unrecorded counts calls refused, since the start, because their
	// audit record could not be written (an outage, a full writer queue).
	Unrecorded uint64
}

// Readiness is what the overall health reports (the ops listener mirrors it).
func (s *Server) Readiness() Readiness { return s.ready.status() }

// backendHold is how long a backend without a Prober counts as down after
// a call found it unavailable: then traffic tries it again.
const backendHold = 15 * time.Second

// readiness tracks the conditions behind Readiness and keeps the health
// service's overall status in step with them.
type readiness struct {
	hs       *health.Server
	log      *slog.Logger
	now      func() time.Time
	backends map[string]backends.Backend

	mu          sync.Mutex
	auditDown   bool
	downSince   time.Time
	refused     uint64               // calls refused unrecorded during this audit outage
	unrecorded  uint64               // ... since the start
	backendDown map[string]time.Time // backend name → its last Unavailable answer
	draining    bool
	serving     bool // what hs says now
}

func newReadiness(hs *health.Server, log *slog.Logger, bs map[string]backends.Backend, now func() time.Time) *readiness {
	if now == nil {
		now = time.Now
	}
	return &readiness{hs: hs, log: log, now: now, backends: bs, backendDown: map[string]time.Time{}}
}

func (r *readiness) status() Readiness {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.statusLocked()
}

func (r *readiness) statusLocked() Readiness {
	var why []string
	if r.draining {
		why = append(why, "draining")
	}
	if r.auditDown {
		why = append(why, "audit log cannot commit")
	}
	if len(r.backends) > 0 && len(r.backendDown) == len(r.backends) {
		why = append(why, "no backend can serve")
	}
	return Readiness{Ready: len(why) == 0, Reasons: why, Unrecorded: r.unrecorded}
}

// update sets the overall health after a change; it logs transitions only,
// so an outage costs two lines, not one per call.
func (r *readiness) updateLocked() {
	st := r.statusLocked()
	if st.Ready == r.serving {
		return
	}
	r.serving = st.Ready
	if r.draining {
		return // health.Shutdown has already said NOT_SERVING for good
	}
	if st.Ready {
		r.hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		r.log.Info("keygated ready again")
		return
	}
	r.hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	r.log.Warn("keygated not ready", "reasons", st.Reasons)
}

// start reports the status once the server listens.
func (r *readiness) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.statusLocked()
	r.serving = st.Ready
	if st.Ready {
		r.hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	} else {
		r.hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	}
}

// drain marks the start of shutdown: NOT_SERVING from now on.
func (r *readiness) drain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.draining, r.serving = true, false
	r.hs.Shutdown()
}

// auditFailed notes a call refused because its record could not be
// written. A commit failure marks the log down until a probe commits; a
// full writer queue does not (it drains by itself).
func (r *readiness) auditFailed(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unrecorded++
	if kgerr.KindOf(err) != kgerr.Unavailable || audit.IsSaturated(err) {
		return
	}
	if !r.auditDown {
		r.auditDown, r.downSince, r.refused = true, r.now(), 0
	}
	r.refused++
	r.updateLocked()
}

// auditRefusal is the error for a call refused before any work while the
// audit log is down (nil when it is up): no backend work goes unrecorded,
// and nothing more is written to a store that cannot take it.
func (r *readiness) auditRefusal() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.auditDown {
		return nil
	}
	r.refused++
	r.unrecorded++
	return kgerr.Errorf(kgerr.Unavailable, "audit log unavailable")
}

// countUnrecorded counts a call refused, unrecorded, for a full writer queue.
func (r *readiness) countUnrecorded() {
	r.mu.Lock()
	r.unrecorded++
	r.mu.Unlock()
}

// backendResult notes the outcome of a call that reached backend b.
func (r *readiness) backendResult(b string, err error) {
	down := kgerr.KindOf(err) == kgerr.Unavailable
	r.mu.Lock()
	defer r.mu.Unlock()
	_, was := r.backendDown[b]
	switch {
	case err == nil && was:
		delete(r.backendDown, b)
	case down && err != nil:
		r.backendDown[b] = r.now()
	default:
		return
	}
	r.updateLocked()
}

// watch probes what is down every interval until ctx ends: the audit log
// by committing an audit.resumed event (which says how many calls were
// refused unrecorded, and since when), backends by Probe or, without one,
// after backendHold.
func (r *readiness) watch(ctx context.Context, interval time.Duration, chain *chainAuditor) {
	every(ctx, interval, func() {
		r.probeAudit(ctx, chain, interval)
		r.probeBackends(ctx, interval)
	})
}

func (r *readiness) probeAudit(ctx context.Context, chain *chainAuditor, timeout time.Duration) {
	r.mu.Lock()
	down, since, refused := r.auditDown, r.downSince, r.refused
	r.mu.Unlock()
	if !down || chain == nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, max(timeout, 5*time.Second))
	defer cancel()
	detail := fmt.Sprintf("audit log committing again: %d calls refused unrecorded since %s",
		refused, since.UTC().Format(time.RFC3339Nano))
	if err := chain.event(pctx, audit.KindAuditResumed, detail); err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auditDown = false
	r.log.Info("audit log committing again", "refused", r.refused, "since", since)
	r.updateLocked()
}

func (r *readiness) probeBackends(ctx context.Context, timeout time.Duration) {
	r.mu.Lock()
	var down []string
	for b := range r.backendDown {
		down = append(down, b)
	}
	r.mu.Unlock()
	sort.Strings(down)
	for _, name := range down {
		up := false
		p, probes := r.backends[name].(backends.Prober)
		if probes {
			pctx, cancel := context.WithTimeout(ctx, max(timeout, 5*time.Second))
			up = p.Probe(pctx) == nil
			cancel()
		}
		r.mu.Lock()
		if at, ok := r.backendDown[name]; ok && (up || !probes && r.now().Sub(at) >= backendHold) {
			delete(r.backendDown, name)
			r.updateLocked()
		}
		r.mu.Unlock()
	}
}
