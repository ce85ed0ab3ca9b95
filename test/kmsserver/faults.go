package kmsserver

import (
	"encoding/json"
	"net/http"
	"time"

	"golang.org/x/time/rate"
)

// fault is what the test asked to go wrong with one operation.
type fault struct {
	failures []*kmsError // answered, in order, to the next calls
	latency  time.Duration
}

// AllOperations makes a fault apply to every operation.
const AllOperations = ""

// Fail makes the next n calls of op (AllOperations for any) fail with the
// KMS error type errType ("AccessDeniedException", "ThrottlingException",
// "KMSInternalException", ...) and its HTTP status.
func (s *Server) Fail(op string, n int, errType, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault(op)
	for range n {
		f.failures = append(f.failures, &kmsError{Type: errType, Msg: message})
	}
}

// Throttle makes the next n calls of op fail with ThrottlingException.
func (s *Server) Throttle(op string, n int) {
	s.Fail(op, n, "ThrottlingException", "Rate exceeded")
}

// FailInternal makes the next n calls of op fail with HTTP 500
// KMSInternalException.
func (s *Server) FailInternal(op string, n int) {
	s.Fail(op, n, "KMSInternalException", "We encountered an internal error. Please try again.")
}

// SetLatency delays every call of op by d before it is served (0 removes
// it). The delay ends early if the client goes away.
func (s *Server) SetLatency(op string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault(op).latency = d
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*fault{}
}

func (s *Server) fault(op string) *fault {
	f := s.faults[op]
	if f == nil {
		f = &fault{}
		s.faults[op] = f
	}
	return f
}

// injected applies latency and takes the next queued failure for op, if
// any. Operation-specific faults come before AllOperations ones.
func (s *Server) injected(r *http.Request, op string) *kmsError {
	s.mu.Lock()
	var delay time.Duration
	var fail *kmsError
	for _, name := range []string{op, AllOperations} {
		f := s.faults[name]
		if f == nil {
			continue
		}
		delay += f.latency
		if fail == nil && len(f.failures) > 0 {
			fail, f.failures = f.failures[0], f.failures[1:]
		}
	}
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	if fail == nil {
		return nil
	}
	out := *fail
	return &out
}

// keyIDOf reads KeyId from a request body without validating it, so that a
// failed call's CloudTrail record still names the key.
func keyIDOf(body []byte) string {
	var v struct{ KeyId string }
	_ = json.Unmarshal(body, &v)
	return v.KeyId
}

// SetQuota throttles op (AllOperations: every operation together) above
// perSecond requests a second, as KMS's per-account quotas do: a request
// over it gets ThrottlingException. 0 removes the quota.
func (s *Server) SetQuota(op string, perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quotas == nil {
		s.quotas = map[string]*rate.Limiter{}
	}
	if perSecond <= 0 {
		delete(s.quotas, op)
		return
	}
	s.quotas[op] = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond/10)))
}

// Throttled is how many requests a quota refused.
func (s *Server) Throttled() int64 { return s.throttled.Load() }

// overQuota answers a request over op's quota.
func (s *Server) overQuota(op string) *kmsError {
	s.mu.Lock()
	lims := []*rate.Limiter{s.quotas[op], s.quotas[AllOperations]}
	s.mu.Unlock()
	for _, l := range lims {
		if l != nil && !l.Allow() {
			s.throttled.Add(1)
			return errf("ThrottlingException", "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")
		}
	}
	return nil
}
