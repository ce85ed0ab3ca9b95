package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// fileCreds is mTLS from PEM files that are read again when they change,
// so short-lived certificates (SPIFFE, cert-manager) rotate without a new
// Dial. A file that cannot be read or parsed keeps the last good copy:
// a half-written renewal must not break a running caller.
type fileCreds struct {
	ca, cert, key string

	mu      sync.Mutex
	stamp   [3]time.Time
	pool    *x509.CertPool
	keyPair *tls.Certificate
}

func newFileCreds(ca, cert, key string) (*fileCreds, error) {
	f := &fileCreds{ca: ca, cert: cert, key: key}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// reload reads the files if any changed since the last good load.
func (f *fileCreds) reload() error {
	var stamp [3]time.Time
	for i, name := range []string{f.ca, f.cert, f.key} {
		st, err := os.Stat(name)
		if err != nil {
			return fmt.Errorf("client tls: %w", err)
		}
		stamp[i] = st.ModTime()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pool != nil && stamp == f.stamp {
		return nil
	}
	pool, err := loadPool(f.ca)
	if err != nil {
		return err
	}
	kp, err := tls.LoadX509KeyPair(f.cert, f.key)
	if err != nil {
		return fmt.Errorf("client tls: certificate %s: %w", f.cert, err)
	}
	f.pool, f.keyPair, f.stamp = pool, &kp, stamp
	return nil
}

func (f *fileCreds) current() (*x509.CertPool, *tls.Certificate) {
	_ = f.reload() // keep the last good copy on error; the handshake says what fails
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pool, f.keyPair
}

// config is TLS 1.3 whose client certificate and trusted CAs come from the
// files at each handshake. Go verifies a server against a fixed RootCAs
// pool only, so verification is done here against the current pool, with
// the same checks (chain, server-auth usage, host name) Go itself makes.
func (f *fileCreds) config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			_, kp := f.current()
			return kp, nil
		},
		InsecureSkipVerify: true, // replaced by VerifyConnection below, never skipped
		VerifyConnection: func(cs tls.ConnectionState) error {
			pool, _ := f.current()
			return verifyServer(cs, pool)
		},
	}
}

func verifyServer(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("client tls: the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: cs.ServerName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("client tls: server certificate: %w", err)
	}
	return nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("client tls: CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("client tls: CA %s holds no PEM certificate", file)
	}
	return pool, nil
}

// FileTLS is the TLS configuration Dial makes from WithTLSFiles, for
// callers that need it outside gRPC (a TLS probe): the files are read now
// and again whenever they change.
func FileTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	f, err := newFileCreds(caFile, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return f.config(), nil
}
