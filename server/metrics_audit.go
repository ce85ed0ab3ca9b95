package server

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/backends"
)

// meteredStore is the audit log's store as the metrics see it: each
// Append is one group commit; each checkpoint read or stored moves the
// time of the newest checkpoint. The log itself is untouched.
type meteredStore struct {
	audit.Store
	m          *metrics
	checkpoint atomic.Int64 // unix nanoseconds of the newest checkpoint seen
}

func (s *meteredStore) Append(ctx context.Context, link func(audit.Head) ([]audit.Record, error)) (audit.Head, error) {
	start, n := time.Now(), 0
	head, err := s.Store.Append(ctx, func(h audit.Head) ([]audit.Record, error) {
		recs, err := link(h)
		n = len(recs)
		return recs, err
	})
	if err != nil {
		s.m.auditCommitFails.Inc()
		return head, err
	}
	s.m.auditCommit.Observe(time.Since(start).Seconds())
	s.m.auditBatch.Observe(float64(n))
	s.m.auditEvents.Add(float64(n))
	return head, nil
}

func (s *meteredStore) AddCheckpoint(ctx context.Context, c audit.Checkpoint) error {
	err := s.Store.AddCheckpoint(ctx, c)
	if err == nil {
		s.saw(c.Time)
	}
	return err
}

func (s *meteredStore) LastCheckpoint(ctx context.Context) (audit.Checkpoint, error) {
	c, err := s.Store.LastCheckpoint(ctx)
	if err == nil && c.Counter > 0 {
		s.saw(c.Time) // perhaps another replica's
	}
	return c, err
}

func (s *meteredStore) saw(t time.Time) {
	for {
		old := s.checkpoint.Load()
		if t.UnixNano() <= old || s.checkpoint.CompareAndSwap(old, t.UnixNano()) {
			return
		}
	}
}

// meteredWitness counts the checkpoints a witness did not take.
type meteredWitness struct {
	audit.Witness
	failures prometheus.Counter
}

func (w meteredWitness) Publish(ctx context.Context, c audit.Checkpoint) error {
	err := w.Witness.Publish(ctx, c)
	if err != nil {
		w.failures.Inc()
	}
	return err
}

// meterAudit wraps the audit log's store and witnesses, and exports the
// chain head and the age of the newest checkpoint read from l on scrape.
func (m *metrics) meterAudit(store audit.Store, ws []audit.Witness) (*meteredStore, []audit.Witness) {
	ms := &meteredStore{Store: store, m: m}
	out := make([]audit.Witness, len(ws))
	for i, w := range ws {
		kind, _, _ := strings.Cut(w.Name(), " ") // "file /path": the kind, not the path
		out[i] = meteredWitness{Witness: w, failures: m.witnessFails.WithLabelValues(kind)}
	}
	return ms, out
}

// watchAudit exports the log's head and checkpoint age, read on scrape.
func (m *metrics) watchAudit(l *audit.Log, ms *meteredStore, now func() time.Time) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keygate_audit_head_seq", Help: "Sequence number of the newest audit event this replica committed."},
			func() float64 { return float64(l.Status().Head.Seq) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keygate_audit_checkpoint_age_seconds",
			Help: "Seconds since the newest audit checkpoint this replica signed or read (NaN before the first)."},
			func() float64 {
				t := ms.checkpoint.Load()
				if t == 0 {
					return math.NaN()
				}
				return now().Sub(time.Unix(0, t)).Seconds()
			}),
	)
}

// backends exports each pooling backend's sessions, read on scrape.
func (m *metrics) backends(bs map[string]backends.Backend) {
	for name, b := range bs {
		r, ok := b.(backends.SessionReporter)
		if !ok {
			continue
		}
		labels := prometheus.Labels{"backend": name}
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keygate_pkcs11_sessions_in_use", Help: "PKCS#11 sessions lent out now.", ConstLabels: labels},
				func() float64 { return float64(r.Sessions().InUse) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keygate_pkcs11_sessions_max", Help: "The PKCS#11 session pool's bound (max_sessions).", ConstLabels: labels},
				func() float64 { return float64(r.Sessions().Max) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "keygate_pkcs11_session_waits_total", Help: "Session acquisitions that found every session busy and waited.", ConstLabels: labels},
				func() float64 { return float64(r.Sessions().Waits) }),
		)
	}
}

// keysOverdue sets the number of keys overdue for rotation (Tick).
func (m *metrics) keysOverdue(n int) {
	if m != nil {
		m.overdue.Set(float64(n))
	}
}

// finding counts one reconciliation finding by its class.
func (m *metrics) finding(class string) {
	if m != nil {
		m.findings.WithLabelValues(class).Inc()
	}
}
