package server

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"sync"
	"time"
)

// crlChecker refuses, at the TLS handshake, a client certificate whose
// serial is on the configured CA's revocation list. The file is read again
// when its modification time or size changes, so an operator revokes a
// stolen certificate by replacing the file, without a restart. A list that
// cannot be read, is not signed by a client CA, or has passed its
// NextUpdate refuses every handshake: revocation fails closed.
type crlChecker struct {
	file string
	cas  []*x509.Certificate
	now  func() time.Time

	mu      sync.Mutex
	modTime time.Time
	size    int64
	revoked map[string]bool // revokedKey(issuer, serial) → revoked
	next    time.Time
	err     error
}

func newCRLChecker(file string, cas []*x509.Certificate, now func() time.Time) (*crlChecker, error) {
	c := &crlChecker{file: file, cas: cas, now: now}
	if err := c.refresh(); err != nil {
		return nil, err
	}
	return c, nil
}

// verify is the tls.Config's VerifyPeerCertificate: it runs after the chain
// was verified against the client CAs.
func (c *crlChecker) verify(_ [][]byte, chains [][]*x509.Certificate) error {
	if err := c.refresh(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.next.IsZero() && c.now().After(c.next) {
		return fmt.Errorf("tls: the certificate revocation list %s expired at %s", c.file, c.next.UTC().Format(time.RFC3339))
	}
	for _, chain := range chains {
		if len(chain) > 0 && c.revoked[revokedKey(chain[0].RawIssuer, chain[0].SerialNumber)] {
			return &revokedError{subject: chain[0].Subject.String(), serial: chain[0].SerialNumber.Text(16)}
		}
	}
	return nil
}

// refresh reloads the list if the file changed since it was last read.
func (c *crlChecker) refresh() error {
	fi, err := os.Stat(c.file)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.err = fmt.Errorf("tls: certificate revocation list: %w", err)
		return c.err
	}
	if c.revoked != nil && fi.ModTime().Equal(c.modTime) && fi.Size() == c.size {
		return c.err
	}
	revoked, next, err := c.load()
	c.modTime, c.size, c.err = fi.ModTime(), fi.Size(), err
	if err == nil {
		c.revoked, c.next = revoked, next
	} else if c.revoked == nil {
		c.revoked = map[string]bool{}
	}
	return c.err
}

func (c *crlChecker) load() (map[string]bool, time.Time, error) {
	raw, err := os.ReadFile(c.file)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("tls: certificate revocation list: %w", err)
	}
	// One DER list, or PEM lists one after another: one per client CA when
	// a role has its own (tls.roles), so an admin CA revokes its own.
	ders := [][]byte{raw}
	if b, rest := pem.Decode(raw); b != nil {
		ders = [][]byte{b.Bytes}
		for b, rest = pem.Decode(rest); b != nil; b, rest = pem.Decode(rest) {
			ders = append(ders, b.Bytes)
		}
	}
	revoked := map[string]bool{}
	var next time.Time
	for _, der := range ders {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, time.Time{}, fmt.Errorf("tls: certificate revocation list %s: %w", c.file, err)
		}
		signed := false
		for _, ca := range c.cas {
			if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
				signed = true
				break
			}
		}
		if !signed {
			return nil, time.Time{}, fmt.Errorf("tls: certificate revocation list %s is not signed by a client CA", c.file)
		}
		for _, e := range crl.RevokedCertificateEntries {
			revoked[revokedKey(crl.RawIssuer, e.SerialNumber)] = true
		}
		if next.IsZero() || (!crl.NextUpdate.IsZero() && crl.NextUpdate.Before(next)) {
			next = crl.NextUpdate
		}
	}
	return revoked, next, nil
}

// revokedKey names a certificate by its issuer and serial: serials are
// unique per CA only, and the file may hold several CAs' lists.
func revokedKey(issuer []byte, serial *big.Int) string {
	return string(issuer) + "/" + serial.Text(16)
}
