package server

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
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
	// RatePerPrincipal bounds each principal's calls per second (a token
	// bucket), beside the in-flight limits: a client that ignores the
	// retry-after hint gets no more work done by calling again at once.
	// A call beyond it is refused ResourceExhausted before any work, with
	// the time until the principal's next call as the hint. 0 (the
	// default): no rate limit.
	RatePerPrincipal float64 `yaml:"rate_per_principal"`
	// BurstPerPrincipal is how many calls a principal may make at once
	// within its rate (default: one second's worth, at least 1).
	BurstPerPrincipal int `yaml:"burst_per_principal"`
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
	if l.RatePerPrincipal > 0 && l.BurstPerPrincipal == 0 {
		l.BurstPerPrincipal = max(1, int(math.Ceil(l.RatePerPrincipal)))
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
	if l.RatePerPrincipal < 0 || l.BurstPerPrincipal < 0 || math.IsNaN(l.RatePerPrincipal) || math.IsInf(l.RatePerPrincipal, 0) {
		p = append(p, "limits.rate_per_principal and limits.burst_per_principal must be finite and not negative")
	}
	if l.BurstPerPrincipal > 0 && l.RatePerPrincipal == 0 {
		p = append(p, "limits.burst_per_principal needs limits.rate_per_principal")
	}
	return p
}

// admission counts the calls in flight, overall and per principal, and
// each principal's rate.
type admission struct {
	max, perPrincipal int64
	retryAfter        string // milliseconds, for the trailer
	rate              rate.Limit
	burst             int
	all               atomic.Int64
	shed              atomic.Uint64 // calls refused at a limit
	mu                sync.Mutex
	by                map[string]*int64 // principal ARN → calls in flight; removed at 0
	// rates are the principals' token buckets (none without a rate). They
	// are kept: principals are the config's mapped identities, a bounded set.
	rates map[string]*rate.Limiter
}

func newAdmission(c LimitsConfig) *admission {
	return &admission{max: int64(c.MaxInFlight), perPrincipal: int64(c.MaxInFlightPerPrincipal),
		retryAfter: strconv.FormatInt(c.RetryAfter.Milliseconds(), 10), by: map[string]*int64{},
		rate: rate.Limit(c.RatePerPrincipal), burst: c.BurstPerPrincipal, rates: map[string]*rate.Limiter{}}
}

// enter admits one call of principal, or refuses it at once. The caller
// must call the returned leave when the call ends.
func (a *admission) enter(principal string) (leave func(), err error) {
	if err := a.paced(principal); err != nil {
		a.shed.Add(1)
		return nil, err
	}
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

// paced takes a token from principal's bucket, or refuses the call with
// the time until the next token as its retry-after hint. It runs on the
// monotonic clock: a clock jump neither frees nor blocks anyone.
func (a *admission) paced(principal string) error {
	if a.rate <= 0 {
		return nil
	}
	a.mu.Lock()
	lim := a.rates[principal]
	if lim == nil {
		lim = rate.NewLimiter(a.rate, a.burst)
		a.rates[principal] = lim
	}
	a.mu.Unlock()
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return &kgerr.Error{Kind: kgerr.ResourceExhausted, RetryAfter: d,
			Msg: fmt.Sprintf("principal is over its rate of %g calls a second; retry later", float64(a.rate))}
	}
	return nil
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
			hint := s.admission.retryAfter
			if d := kgerr.RetryAfterOf(err); d > 0 {
				hint = strconv.FormatInt((d + time.Millisecond - 1).Milliseconds(), 10) // rounded up
			}
			grpc.SetTrailer(ctx, metadata.Pairs("grpc-retry-pushback-ms", hint))
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
