package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/credentials"

	"github.com/keygate/keygate/audit"
)

// Failed TLS handshakes (issue 16, finding 6) never reach the call
// pipeline, so nothing else would see them. Each is counted by reason
// (keygate_tls_handshake_failures_total), logged through logrepeat (once
// per source and reason per interval, with the subject of the certificate
// offered, if any), and recorded in the audit log in aggregate: one
// tls.handshake_failed event per source and reason per interval, with the
// count, the first and last time and the subject. Never one event per
// handshake, so a flood cannot fill the log.

// Handshake failure reasons.
const (
	hsNoCertificate = "no_certificate" // the client sent none
	hsUnknownCA     = "unknown_ca"     // its chain does not reach tls.client_ca
	hsExpired       = "expired"        // expired or not yet valid
	hsRevoked       = "revoked"        // listed in tls.crl_file
	hsBadCert       = "bad_certificate"
	hsProtocol      = "protocol" // not TLS 1.3, no common cipher, a revocation list that cannot be used...
	hsClosed        = "closed"   // the peer went away before finishing (a port probe): counted only
)

// maxHandshakeSources bounds the sources aggregated per interval; beyond
// it, failures from new sources are aggregated under the source "other".
const maxHandshakeSources = 1024

// handshakeCreds wraps the server's TLS credentials to see the handshakes
// that fail.
type handshakeCreds struct {
	credentials.TransportCredentials
	failures *handshakeFailures
}

func (c handshakeCreds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := c.TransportCredentials.ServerHandshake(raw)
	if err != nil {
		c.failures.add(raw.RemoteAddr(), err)
	}
	return conn, info, err
}

func (c handshakeCreds) Clone() credentials.TransportCredentials {
	return handshakeCreds{c.TransportCredentials.Clone(), c.failures}
}

// revokedError is the CRL check's refusal, naming the certificate.
type revokedError struct{ subject, serial string }

func (e *revokedError) Error() string { return "tls: the client certificate is revoked" }

// handshakeFailures aggregates failed handshakes until the next flush.
type handshakeFailures struct {
	log     *slog.Logger
	counter *prometheus.CounterVec // reason
	now     func() time.Time

	mu   sync.Mutex
	open map[handshakeKey]*handshakeAgg
}

type handshakeKey struct{ source, reason string }

type handshakeAgg struct {
	n           int
	first, last time.Time
	subject     string // the last certificate subject offered, unverified
}

func newHandshakeFailures(log *slog.Logger, m *metrics) *handshakeFailures {
	c := factory{m.reg}.counterVec("keygate_tls_handshake_failures_total",
		"TLS handshakes refused, by reason (no_certificate, unknown_ca, expired, revoked, bad_certificate, protocol, closed).", "reason")
	return &handshakeFailures{log: log, counter: c, now: time.Now, open: map[handshakeKey]*handshakeAgg{}}
}

// add counts one failed handshake from addr.
func (h *handshakeFailures) add(addr net.Addr, err error) {
	reason, subject := handshakeReason(err)
	h.counter.WithLabelValues(reason).Inc()
	if reason == hsClosed {
		return
	}
	source := "unknown"
	if addr != nil {
		source = addr.String()
		if host, _, err := net.SplitHostPort(source); err == nil {
			source = host
		}
	}
	now := h.now()
	h.mu.Lock()
	k := handshakeKey{source, reason}
	if _, ok := h.open[k]; !ok && len(h.open) >= maxHandshakeSources {
		k.source = "other"
	}
	a := h.open[k]
	if a == nil {
		a = &handshakeAgg{first: now}
		h.open[k] = a
	}
	a.n++
	a.last = now
	if subject != "" {
		a.subject = clip(subject)
	}
	h.mu.Unlock()
	// logrepeat writes this once per cause per interval, then the count:
	// the cause's reason names the source.
	h.log.Warn("TLS handshake failed", "reason", reason+" from "+k.source, "subject", clip(subject), "err", err)
}

// take empties the aggregates, oldest first.
func (h *handshakeFailures) take() []handshakeRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]handshakeRecord, 0, len(h.open))
	for k, a := range h.open {
		out = append(out, handshakeRecord{k, *a})
	}
	clear(h.open)
	sort.Slice(out, func(i, j int) bool { return out[i].first.Before(out[j].first) })
	return out
}

// putBack returns aggregates an audit write could not take.
func (h *handshakeFailures) putBack(rs []handshakeRecord) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range rs {
		a := h.open[r.handshakeKey]
		if a == nil {
			a = &handshakeAgg{first: r.first, last: r.last}
			h.open[r.handshakeKey] = a
		}
		a.n += r.n
		if r.first.Before(a.first) {
			a.first = r.first
		}
		if r.subject != "" && a.subject == "" {
			a.subject = r.subject
		}
	}
}

type handshakeRecord struct {
	handshakeKey
	handshakeAgg
}

// flush records each source and reason seen since the last flush as one
// audit event. Aggregates the log could not take wait for the next flush.
func (h *handshakeFailures) flush(ctx context.Context, chain *chainAuditor) error {
	if chain == nil {
		h.take() // no audit log: counted and logged only
		return nil
	}
	rs := h.take()
	for i, r := range rs {
		e := &audit.Event{Kind: audit.KindHandshakeFailed, Replica: chain.replica, Action: "keygate:TLSHandshake",
			Peer: r.source, CertSubject: r.subject, Result: "Unauthenticated", Error: r.reason,
			Detail: fmt.Sprintf("%d failed TLS handshakes (%s) from %s, first %s, last %s", r.n, r.reason, r.source,
				r.first.UTC().Format(time.RFC3339Nano), r.last.UTC().Format(time.RFC3339Nano))}
		if err := chain.log.Record(ctx, e); err != nil {
			h.putBack(rs[i:])
			return err
		}
	}
	return nil
}

// loop flushes every interval until ctx ends.
func (h *handshakeFailures) loop(ctx context.Context, interval time.Duration, chain *chainAuditor) {
	if interval <= 0 {
		interval = 10 * time.Second // log.repeat_interval's default
	}
	every(ctx, interval, func() {
		if err := h.flush(ctx, chain); err != nil {
			h.log.Error("audit: failed TLS handshakes not recorded yet", "reason", "handshake audit", "err", err)
		}
	})
}

// handshakeReason classifies a failed handshake and names the certificate
// offered, when there was one (its subject is the client's claim: the
// certificate did not verify).
func handshakeReason(err error) (reason, subject string) {
	var verr *tls.CertificateVerificationError
	var rev *revokedError
	switch {
	case errors.As(err, &rev):
		return hsRevoked, rev.subject
	case errors.As(err, &verr):
		if len(verr.UnverifiedCertificates) > 0 {
			subject = verr.UnverifiedCertificates[0].Subject.String()
		}
		var unknown x509.UnknownAuthorityError
		var invalid x509.CertificateInvalidError
		switch {
		case errors.As(verr.Err, &unknown):
			return hsUnknownCA, subject
		case errors.As(verr.Err, &invalid) && invalid.Reason == x509.Expired:
			return hsExpired, subject
		}
		return hsBadCert, subject
	case strings.Contains(err.Error(), "client didn't provide a certificate"):
		return hsNoCertificate, ""
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, context.DeadlineExceeded), isNetErr(err):
		return hsClosed, ""
	}
	return hsProtocol, ""
}

// isNetErr reports a connection that failed below TLS (reset, timeout),
// not an alert the client sent.
func isNetErr(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op != "remote error"
}
