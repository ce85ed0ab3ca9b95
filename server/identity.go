package server

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Principal is who is calling: the verified client certificate's identity
// and the principal ARN the config maps it to.
type Principal struct {
	ARN      string
	Account  string
	Identity string // the URI SAN, else the subject CN
	Source   string // IdentityURI or IdentityCN: the namespace Identity is in
	Subject  string
	Serial   string
	URI      string
}

// Identity sources: a principal is mapped from a certificate's URI SAN or
// from its subject CN, never either. The two are separate namespaces, so a
// CN that reads like a SPIFFE ID is not that SPIFFE ID.
const (
	IdentityURI = "uri"
	IdentityCN  = "cn"
)

// principalKey is an identity in its namespace.
type principalKey struct{ source, identity string }

// resolve takes the principal from the verified TLS peer certificate,
// under the live configuration l (identify keeps the result with the
// connection until a reload).
func (s *Server) resolve(ctx context.Context, l *live) (Principal, string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Principal{}, "", kgerr.Errorf(kgerr.PermissionDenied, "no peer")
	}
	addr := p.Addr.String()
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return Principal{}, addr, kgerr.Errorf(kgerr.PermissionDenied, "a verified client certificate is required")
	}
	pr, err := certPrincipal(ti.State.VerifiedChains[0][0])
	if err != nil {
		return pr, addr, err
	}
	if verify := l.tls.VerifyPeerCertificate; verify != nil {
		// The CRL, checked at the handshake; again under l, which a
		// reload may have brought since.
		if err := verify(nil, ti.State.VerifiedChains); err != nil {
			return pr, addr, kgerr.Wrap(kgerr.PermissionDenied, err, "the client certificate is not accepted now (revoked, or the revocation list is unusable)")
		}
	}
	arn, ok := l.principals[principalKey{pr.Source, pr.Identity}]
	if !ok {
		return pr, addr, kgerr.Errorf(kgerr.PermissionDenied, "certificate %s %q is not mapped to a principal", pr.Source, pr.Identity)
	}
	pr.ARN = arn
	pr.Account = arnAccount(arn)
	if err := l.roles.check(arn, ti.State.PeerCertificates, time.Now()); err != nil {
		return pr, addr, err
	}
	return pr, addr, nil
}

// certPrincipal reads a certificate's identity: its one URI SAN exactly as
// encoded (not re-serialized: url.URL.String would lowercase the scheme),
// else its subject CN. A certificate with several URI SANs is refused: it
// would be several principals at once.
func certPrincipal(c *x509.Certificate) (Principal, error) {
	p := Principal{Subject: c.Subject.String(), Serial: c.SerialNumber.Text(16)}
	uris, err := rawURISANs(c)
	if err != nil {
		return p, kgerr.Wrap(kgerr.PermissionDenied, err, "the client certificate's subject alternative names do not parse")
	}
	switch len(uris) {
	case 0:
		p.Source, p.Identity = IdentityCN, c.Subject.CommonName
	case 1:
		p.Source, p.Identity, p.URI = IdentityURI, uris[0], uris[0]
	default:
		return p, kgerr.Errorf(kgerr.PermissionDenied, "the client certificate has %d URI SANs; a principal's certificate must have at most one", len(uris))
	}
	return p, nil
}

var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// rawURISANs returns the uniformResourceIdentifier names of the subject
// alternative name extension, byte for byte.
func rawURISANs(c *x509.Certificate) ([]string, error) {
	var out []string
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		var seq asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &seq); err != nil || len(rest) > 0 || !seq.IsCompound {
			return nil, errors.New("SAN extension is not a sequence")
		}
		for b := seq.Bytes; len(b) > 0; {
			var gn asn1.RawValue
			var err error
			if b, err = asn1.Unmarshal(b, &gn); err != nil {
				return nil, err
			}
			if gn.Class == asn1.ClassContextSpecific && gn.Tag == 6 {
				out = append(out, string(gn.Bytes))
			}
		}
	}
	return out, nil
}

// arnAccount is the account field of an ARN (the fifth).
func arnAccount(arn string) string {
	field, start := 0, 0
	for i := 0; i < len(arn); i++ {
		if arn[i] == ':' {
			if field == 4 {
				return arn[start:i]
			}
			field++
			start = i + 1
		}
	}
	return ""
}
