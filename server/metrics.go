package server

import (
	"net/http"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keygate/keygate/internal/kgerr"
)

// MetricsConfig configures the Prometheus listener.
type MetricsConfig struct {
	// Listen is the plaintext HTTP address that serves /metrics, e.g.
	// 127.0.0.1:9464; empty (the default) serves none. It carries no
	// secret, but keep it off the public network.
	Listen string `yaml:"listen"`
}

// metrics is keygated's Prometheus registry: gRPC's own call metrics
// (go-grpc-middleware) and keygate's. Each server has its own registry, so
// several servers can run in one process (tests). The hot path never
// builds a label set: counters are looked up once per label combination
// and kept (labelled), or indexed by error kind.
type metrics struct {
	reg  *prometheus.Registry
	grpc *grpcprom.ServerMetrics

	calls          *labelled[callLabels, prometheus.Counter]
	denials        *labelled[denialLabels, prometheus.Counter]
	backendCalls   *labelled[backendLabels, prometheus.Counter]
	backendLatency *labelled[latencyLabels, prometheus.Observer]

	acsCreated prometheus.Counter
	acsRefused [kgerr.Canceled + 1]prometheus.Counter // by kind

	auditEvents      prometheus.Counter
	auditBatch       prometheus.Histogram
	auditCommit      prometheus.Histogram
	auditCommitFails prometheus.Counter
	checkpointFails  prometheus.Counter
	witnessFails     *prometheus.CounterVec // witness
	overdue          prometheus.Gauge
	findings         *prometheus.CounterVec // class
	reloads          prometheus.Counter
	reloadFailures   prometheus.Counter
}

type callLabels struct{ key, action, decision string }
type denialLabels struct{ action, decision string }

// latencyBuckets span a SoftHSM sign (sub-millisecond) to a throttled
// KMS call retried for seconds.
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 15)

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.grpc = grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(grpcprom.WithHistogramBuckets(latencyBuckets)))
	f := factory{m.reg}
	calls := f.counterVec("keygate_calls_total", "Calls by key, policy action and decision (Allow, Deny, ImplicitDeny; empty when the call failed before policy).", "key", "action", "decision")
	m.calls = newLabelled(func(l callLabels) prometheus.Counter { return calls.WithLabelValues(l.key, l.action, l.decision) })
	denials := f.counterVec("keygate_denials_total", "Calls refused by policy (Deny, ImplicitDeny) or identity (Unidentified).", "action", "decision")
	m.denials = newLabelled(func(l denialLabels) prometheus.Counter { return denials.WithLabelValues(l.action, l.decision) })
	bcalls := f.counterVec("keygate_backend_calls_total", "Backend operations by backend, action and class (ok, throttled, unavailable, timeout, canceled, denied, rejected, internal).", "backend", "action", "class")
	m.backendCalls = newLabelled(func(l backendLabels) prometheus.Counter { return bcalls.WithLabelValues(l.backend, l.action, l.class) })
	blat := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keygate_backend_latency_seconds",
		Help: "Time in the backend stage of a call (the handler, after policy, before audit).", Buckets: latencyBuckets}, []string{"backend", "action"})
	m.backendLatency = newLabelled(func(l latencyLabels) prometheus.Observer { return blat.WithLabelValues(l.backend, l.action) })
	m.acsCreated = f.counter("keygate_threeds_sessions_created_total", "3DS ACS challenge sessions created.")
	refused := f.counterVec("keygate_threeds_sessions_refused_total", "3DS ACS session creations refused, by reason (the error kind).", "reason")
	for k := range m.acsRefused {
		m.acsRefused[k] = refused.WithLabelValues(kgerr.Kind(k).String())
	}
	m.auditEvents = f.counter("keygate_audit_events_total", "Audit events committed by this replica's log writer.")
	m.auditBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keygate_audit_batch_size",
		Help: "Events per audit group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)})
	m.auditCommit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "keygate_audit_commit_seconds",
		Help: "Latency of one audit group commit (one store transaction).", Buckets: latencyBuckets})
	m.auditCommitFails = f.counter("keygate_audit_commit_failures_total", "Audit group commits that failed (their calls failed closed with Unavailable).")
	m.checkpointFails = f.counter("keygate_audit_checkpoint_failures_total", "Scheduled audit checkpoints that failed.")
	m.witnessFails = f.counterVec("keygate_audit_witness_failures_total", "Checkpoints a witness did not take, by witness kind (file, s3, log).", "witness")
	m.overdue = prometheus.NewGauge(prometheus.GaugeOpts{Name: "keygate_keys_rotation_overdue", Help: "Enabled keys whose active version has outlived its cryptoperiod."})
	m.findings = f.counterVec("keygate_reconcile_findings_total", "CloudTrail reconciliation findings, by class.", "class")
	m.reloads = f.counter("keygate_reloads_total", "Reloads of the TLS certificate, client CA and principal mapping that took effect.")
	m.reloadFailures = f.counter("keygate_reload_failures_total", "Reloads refused (bad certificate, key, CA or config); the running configuration stayed.")
	m.reg.MustRegister(m.grpc, blat, m.auditBatch, m.auditCommit, m.overdue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// factory registers as it makes.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	return mux
}

// MetricsHandler serves /metrics, for the metrics.listen listener.
func (s *Server) MetricsHandler() http.Handler { return s.metrics.handler() }

// call counts a finished call: by key, action and decision; its denial;
// its backend stage; a 3DS session created or refused. The key label is
// set only for a key the registry resolved (so it is bounded by the
// registry, never by what a caller typed).
func (m *metrics) call(c *Call, backend time.Duration) {
	key := ""
	if c.Key != nil {
		key = c.KeyName
	}
	m.calls.get(callLabels{key, c.Action, c.Decision}).Inc()
	denied := c.Decision == "Deny" || c.Decision == "ImplicitDeny"
	if !denied && c.Decision == "" && kgerr.KindOf(c.Err) == kgerr.PermissionDenied && c.Principal.ARN == "" {
		m.denials.get(denialLabels{c.Action, "Unidentified"}).Inc()
	} else if denied {
		m.denials.get(denialLabels{c.Action, c.Decision}).Inc()
	}
	if c.handle != nil && c.Key != nil {
		b := c.Key.Key.Backend
		m.backendCalls.get(backendLabels{b, c.Action, errClass(c.Err)}).Inc()
		m.backendLatency.get(latencyLabels{b, c.Action}).Observe(backend.Seconds())
	}
	if c.Action == "keygate:CreateAcsSession" && c.allowed() {
		if c.Err == nil {
			m.acsCreated.Inc()
		} else if k := kgerr.KindOf(c.Err); int(k) < len(m.acsRefused) {
			m.acsRefused[k].Inc()
		}
	}
}

type backendLabels struct{ backend, action, class string }
type latencyLabels struct{ backend, action string }

// labelled keeps the metric of each label combination once made: a map
// lookup under a read lock, with no allocation, on the hot path.
type labelled[K comparable, V any] struct {
	mu   sync.RWMutex
	m    map[K]V
	make func(K) V
}

func newLabelled[K comparable, V any](make func(K) V) *labelled[K, V] {
	return &labelled[K, V]{m: map[K]V{}, make: make}
}

func (l *labelled[K, V]) get(k K) V {
	l.mu.RLock()
	v, ok := l.m[k]
	l.mu.RUnlock()
	if ok {
		return v
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v, ok = l.m[k]; !ok {
		v = l.make(k)
		l.m[k] = v
	}
	return v
}

// errClass is a backend outcome in words an alert can use.
func errClass(err error) string {
	if err == nil {
		return "ok"
	}
	switch kgerr.KindOf(err) {
	case kgerr.ResourceExhausted:
		return "throttled"
	case kgerr.Unavailable:
		return "unavailable"
	case kgerr.DeadlineExceeded:
		return "timeout"
	case kgerr.Canceled:
		return "canceled"
	case kgerr.PermissionDenied:
		return "denied"
	case kgerr.Internal:
		return "internal"
	}
	return "rejected" // the request or the key's state: the caller's to fix
}
