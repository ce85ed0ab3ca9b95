package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// serverTLS is TLS 1.3 only, with a client certificate required and
// verified against the configured CA: a caller without one never gets past
// the handshake.
func serverTLS(c TLSConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: server certificate: %w", err)
	}
	pool, err := loadPool(c.ClientCA)
	if err != nil {
		return nil, err
	}
	for _, f := range c.Roles.caFiles() { // a role's own CA (admins') is a client CA too
		if err := appendPool(pool, f); err != nil {
			return nil, err
		}
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		NextProtos:   []string{"h2"},
	}
	if c.CRLFile != "" {
		var cas []*x509.Certificate
		for _, f := range append([]string{c.ClientCA}, c.Roles.caFiles()...) {
			more, err := loadCerts(f)
			if err != nil {
				return nil, err
			}
			cas = append(cas, more...)
		}
		crl, err := newCRLChecker(c.CRLFile, cas, time.Now)
		if err != nil {
			return nil, err
		}
		cfg.VerifyPeerCertificate = crl.verify
	}
	return cfg, nil
}

// loadCerts reads every certificate of a PEM file.
func loadCerts(file string) ([]*x509.Certificate, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tls: CA: %w", err)
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, raw = pem.Decode(raw); b == nil {
			return out, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: CA %s: %w", file, err)
		}
		out = append(out, cert)
	}
}

// ClientTLS is the client side of keygate's mTLS, for the CLI and tests.
func ClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pool, err := loadPool(caFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	return pool, appendPool(pool, file)
}

func appendPool(pool *x509.CertPool, file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("tls: CA: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("tls: CA %s holds no PEM certificate", file)
	}
	return nil
}
