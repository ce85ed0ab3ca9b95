package server

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/keygate/keygate/internal/kgerr"
)

// LimitsConfig bounds the calls in flight, so one runaway caller cannot
// starve the others: beyond a limit a call is refused at once with
// ResourceExhausted and a retry-after hint, instead of queueing into its
// deadline.
type LimitsConfig struct {
	// MaxInFlight bounds all unary calls in flight (default 1024).
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxInFlightPerPrincipal bounds one principal's (default 256).
	MaxInFlightPerPrincipal int `yaml:"max_in_flight_per_principal"`
	// RetryAfter is the hint sent with a refusal, as the gRPC trailer
	// grpc-retry-pushback-ms that gRPC's retry honours (default 200ms).
	RetryAfter time.Duration `yaml:"retry_after"`
}

func (l *LimitsConfig) defaults() {
	if l.MaxInFlight == 0 {
		l.MaxInFlight = 1024
	}
	if l.MaxInFlightPerPrincipal == 0 {
		l.MaxInFlightPerPrincipal = 256
	}
	if l.RetryAfter == 0 {
		l.RetryAfter = 200 * time.Millisecond
	}
}

func (l *LimitsConfig) problems() []string {
	var p []string
	if l.MaxInFlight < 0 || l.MaxInFlightPerPrincipal < 0 || l.RetryAfter < 0 {
		p = append(p, "limits.max_in_flight, limits.max_in_flight_per_principal and limits.retry_after must not be negative")
	}
	if l.MaxInFlightPerPrincipal > l.MaxInFlight && l.MaxInFlight > 0 {
		p = append(p, "limits.max_in_flight_per_principal must not exceed limits.max_in_flight")
	}
	return p
}

// admission counts the calls in flight, overall and per principal.
type admission struct {
	max, perPrincipal int64
	retryAfter        string // milliseconds, for the trailer
	all               atomic.Int64
	shed              atomic.Uint64 // calls refused at a limit
	mu                sync.Mutex
	by                map[string]*int64 // principal ARN → calls in flight; removed at 0
}

func newAdmission(c LimitsConfig) *admission {
	return &admission{max: int64(c.MaxInFlight), perPrincipal: int64(c.MaxInFlightPerPrincipal),
		retryAfter: strconv.FormatInt(c.RetryAfter.Milliseconds(), 10), by: map[string]*int64{}}
}

// enter admits one call of principal, or refuses it at once. The caller
// must call the returned leave when the call ends.
func (a *admission) enter(principal string) (leave func(), err error) {
	if a.all.Add(1) > a.max {
		a.all.Add(-1)
		a.shed.Add(1)
		return nil, kgerr.Errorf(kgerr.ResourceExhausted, "keygated is at its limit of %d calls in flight; retry later", a.max)
	}
	a.mu.Lock()
	n := a.by[principal]
	if n == nil {
		n = new(int64)
		a.by[principal] = n
	}
	if *n >= a.perPrincipal {
		a.mu.Unlock()
		a.all.Add(-1)
		a.shed.Add(1)
		return nil, kgerr.Errorf(kgerr.ResourceExhausted, "principal is at its limit of %d calls in flight; retry later", a.perPrincipal)
	}
	*n++
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		if *n--; *n == 0 {
			delete(a.by, principal)
		}
		a.mu.Unlock()
		a.all.Add(-1)
	}, nil
}

// Load is the admission's state, for metrics.
type Load struct {
	InFlight int64  // unary calls in flight now
	Shed     uint64 // calls refused at an in-flight limit since the start
}

// Load says how busy the server is.
func (s *Server) Load() Load {
	return Load{InFlight: s.admission.all.Load(), Shed: s.admission.shed.Load()}
}

// shed decides, before any work, whether this replica takes a unary call:
// not while the audit log cannot commit or its writer queue is full
// (Unavailable: the dependency is slow or down, not the caller too busy;
// another replica may answer), not beyond the in-flight limits
// (ResourceExhausted). A refusal carries the retry-after hint. Shed calls
// did nothing and touched no key; they cannot all be written to a log
// that is the reason for shedding, so they are counted (Readiness) and
// logged per interval instead of audited one by one.
func (s *Server) shed(ctx context.Context, c *Call) (leave func(), err error) {
	defer func() {
		if err != nil {
			grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", s.admission.retryAfter))
			s.log.Warn("call shed", "reason", kgerr.Message(err))
		}
	}()
	if err := s.auditGate(); err != nil {
		return nil, err
	}
	return s.admission.enter(c.Principal.ARN)
}

// auditGate refuses a call while the audit log cannot take its record.
func (s *Server) auditGate() error {
	if err := s.ready.auditRefusal(); err != nil {
		return err
	}
	if s.chain != nil && s.chain.log.Saturated() {
		s.ready.countUnrecorded()
		return kgerr.Errorf(kgerr.Unavailable, "audit log saturated; retry later")
	}
	return nil
}
