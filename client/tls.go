package client

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
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
	signer        crypto.Signer // the key, when it is not a file (a token's)

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

// newSignerCreds is newFileCreds with the private key in signer (a
// PKCS#11 token's) instead of a file; the CA and certificate files are
// still read again when they change.
func newSignerCreds(ca, cert string, signer crypto.Signer) (*fileCreds, error) {
	f := &fileCreds{ca: ca, cert: cert, signer: signer}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// reload reads the files if any changed since the last good load.
func (f *fileCreds) reload() error {
	var stamp [3]time.Time
	for i, name := range []string{f.ca, f.cert, f.key} {
		if name == "" && f.signer != nil {
			continue // the key is the signer's
		}
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
	var kp tls.Certificate
	if f.signer != nil {
		kp, err = signerPair(f.cert, f.signer)
	} else {
		kp, err = tls.LoadX509KeyPair(f.cert, f.key)
	}
	if err != nil {
		return fmt.Errorf("client tls: certificate %s: %w", f.cert, err)
	}
	f.pool, f.keyPair, f.stamp = pool, &kp, stamp
	return nil
}

// signerPair is the certificate chain of a PEM file with signer as its
// key, refused unless the leaf certifies signer's public key.
func signerPair(certFile string, signer crypto.Signer) (tls.Certificate, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	var kp tls.Certificate
	for {
		var b *pem.Block
		if b, raw = pem.Decode(raw); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			kp.Certificate = append(kp.Certificate, b.Bytes)
		}
	}
	if len(kp.Certificate) == 0 {
		return kp, errors.New("no PEM certificate")
	}
	if kp.Leaf, err = x509.ParseCertificate(kp.Certificate[0]); err != nil {
		return kp, err
	}
	pub, ok := kp.Leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return kp, errors.New("the certificate is not for the client key (its public key differs)")
	}
	kp.PrivateKey = signer
	return kp, nil
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

// SignerTLS is FileTLS with the client's key held by key (WithTLSSigner's
// configuration, for a TLS probe).
func SignerTLS(caFile, certFile string, key crypto.Signer) (*tls.Config, error) {
	f, err := newSignerCreds(caFile, certFile, key)
	if err != nil {
		return nil, err
	}
	return f.config(), nil
}
