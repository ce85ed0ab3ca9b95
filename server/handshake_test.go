package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Issue 16, finding 6: a refused handshake left nothing. Real mTLS
// handshakes with no certificate, one from an unknown CA, an expired one
// and a revoked one are each counted by reason, logged once per source
// and reason, and recorded as one aggregated tls.handshake_failed event
// per source and reason, with the count and the subject offered.
func TestFailedHandshakesAreAudited(t *testing.T) {
	crlFile := filepath.Join(t.TempDir(), "clients.crl")
	var e *testEnv
	var revoked *x509.Certificate
	var revokedCert tls.Certificate
	e = startEnvWith(t, "log: {repeat_interval: 1h}\n", func(env *testEnv, cfg *Config) {
		e = env
		revokedCert, revoked = e.certWith("stolen-admin", nil)
		tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(24 * time.Hour),
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: revoked.SerialNumber, RevocationTime: time.Now()}}}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, e.ca.Cert, e.ca.Key)
		must(t, err)
		must(t, os.WriteFile(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644))
		cfg.TLS.CRLFile = crlFile
	}, Options{})

	other, err := devca.New("someone else's CA")
	must(t, err)
	intruder, err := other.Client("intruder", "spiffe://keygate.test/admin")
	must(t, err)
	expired, _ := e.certWith("expired-admin", func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	})
	cases := []struct {
		reason, subject string
		cert            *tls.Certificate
		times           int
	}{
		{hsNoCertificate, "", nil, 1},
		{hsUnknownCA, "CN=intruder,O=keygate demo", &tls.Certificate{Certificate: [][]byte{intruder.Cert.Raw}, PrivateKey: intruder.Key}, 3},
		{hsExpired, "CN=expired-admin", &expired, 1},
		{hsRevoked, "CN=stolen-admin", &revokedCert, 1},
	}
	counter := e.srv.handshakes.counter
	for _, c := range cases {
		for range c.times {
			if err := e.tryHandshake(c.cert); err == nil {
				t.Fatalf("%s: the call succeeded", c.reason)
			}
		}
		// The server refuses after the client has sent its Finished, so
		// the client may hear of it first: wait for the server's count.
		waitFor(t, func() bool {
			var m dto.Metric
			must(t, counter.WithLabelValues(c.reason).Write(&m))
			return m.GetCounter().GetValue() >= float64(c.times)
		})
	}
	ctx := context.Background()
	must(t, e.srv.handshakes.flush(ctx, e.srv.chain))

	evs, err := e.srv.chain.log.Events(ctx, audit.Query{Kind: audit.KindHandshakeFailed, Limit: 100})
	must(t, err)
	byReason := map[string]*audit.Event{}
	for _, ev := range evs {
		if byReason[ev.Error] != nil {
			t.Errorf("two events for %s from %s in one interval", ev.Error, ev.Peer)
		}
		byReason[ev.Error] = ev
	}
	logged := e.log.String()
	for _, c := range cases {
		ev := byReason[c.reason]
		switch {
		case ev == nil:
			t.Errorf("%s: no tls.handshake_failed event; have %d events", c.reason, len(evs))
			continue
		case ev.Peer != "127.0.0.1" || ev.Result != "Unauthenticated" || ev.CertSubject != c.subject:
			t.Errorf("%s: event peer %q result %q subject %q", c.reason, ev.Peer, ev.Result, ev.CertSubject)
		case !strings.Contains(ev.Detail, "failed TLS handshakes ("+c.reason+") from 127.0.0.1, first "):
			t.Errorf("%s: detail %q", c.reason, ev.Detail)
		}
		if n := strings.Count(logged, `reason="`+c.reason+` from 127.0.0.1"`); n != 1 {
			t.Errorf("%s: %d log lines, want 1 per source and reason per interval:\n%s", c.reason, n, logged)
		}
	}
	if ev := byReason[hsUnknownCA]; ev != nil && strings.HasPrefix(ev.Detail, "1 ") {
		t.Errorf("three unknown-CA handshakes aggregated as %q", ev.Detail)
	}
	// A flush with nothing new records nothing.
	must(t, e.srv.handshakes.flush(ctx, e.srv.chain))
	again, err := e.srv.chain.log.Events(ctx, audit.Query{Kind: audit.KindHandshakeFailed, Limit: 100})
	must(t, err)
	if len(again) != len(evs) {
		t.Errorf("an empty interval recorded %d events", len(again)-len(evs))
	}
}

// tryHandshake makes one call with cert (nil: none) on a new connection,
// closed after it.
func (e *testEnv) tryHandshake(cert *tls.Certificate) error {
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Cert)
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}
	if cert != nil {
		// Offered whatever CAs the server names (Go's client would
		// otherwise send none for an unknown CA's certificate).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	conn, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	must(e.t, err)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = pb.NewKeyAdminServiceClient(conn).ListKeys(ctx, &pb.ListKeysRequest{})
	return err
}

// certWith issues a client certificate from the test CA, adjusted.
func (e *testEnv) certWith(cn string, adjust func(*x509.Certificate)) (tls.Certificate, *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(e.t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if adjust != nil {
		adjust(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, e.ca.Cert, &key.PublicKey, e.ca.Key)
	must(e.t, err)
	leaf, err := x509.ParseCertificate(der)
	must(e.t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// waitFor polls cond until it holds, failing after a generous deadline
// (the machine may be loaded; nothing here measures time).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")

		}
		time.Sleep(10 * time.Millisecond)
	}
}
