package server

import (
	"context"
	"crypto/x509"

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
	Subject  string
	Serial   string
	URI      string
}

// identify takes the principal from the verified TLS peer certificate.
func (s *Server) identify(ctx context.Context) (Principal, string, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return Principal{}, "", kgerr.Errorf(kgerr.PermissionDenied, "no peer")
	}
	addr := p.Addr.String()
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return Principal{}, addr, kgerr.Errorf(kgerr.PermissionDenied, "a verified client certificate is required")
	}
	pr := certPrincipal(ti.State.VerifiedChains[0][0])
	arn, ok := s.principals[pr.Identity]
	if !ok {
		return pr, addr, kgerr.Errorf(kgerr.PermissionDenied, "identity %q is not mapped to a principal", pr.Identity)
	}
	pr.ARN = arn
	pr.Account = arnAccount(arn)
	return pr, addr, nil
}

func certPrincipal(c *x509.Certificate) Principal {
	p := Principal{Subject: c.Subject.String(), Serial: c.SerialNumber.Text(16)}
	if len(c.URIs) > 0 {
		p.URI = c.URIs[0].String()
		p.Identity = p.URI
	} else {
		p.Identity = c.Subject.CommonName
	}
	return p
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
