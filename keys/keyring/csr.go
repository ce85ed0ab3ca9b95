package keyring

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"strings"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// CertificateRequest makes a PKCS#10 request (DER) for version n of a
// signing key, signed by the version's key inside its backend: the
// request the DS's CA certifies before the version is activated.
func (r *Keyring) CertificateRequest(ctx context.Context, name string, n uint32, subject string, dns []string) ([]byte, error) {
	if n == 0 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "version is required")
	}
	dn, err := ParseSubject(subject)
	if err != nil {
		return nil, err
	}
	if len(dns) > 16 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "dns_names: at most 16")
	}
	for _, d := range dns {
		if d == "" || len(d) > 253 || strings.ContainsAny(d, " ,/\\@") {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "dns_names: %q is not a DNS name", d)
		}
	}
	e, err := r.Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	k := e.Key
	if k.Usage != keys.SignVerify {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q has usage %s; a certificate request needs a SIGN_VERIFY key", name, k.Usage)
	}
	v := k.Version(n)
	if v == nil {
		return nil, kgerr.Errorf(kgerr.NotFound, "key %q has no version %d", name, n)
	}
	if err := needState(k, v, keys.VersionPendingActivation, keys.VersionActive); err != nil {
		return nil, err
	}
	h, ok := e.Opened(n)
	if !ok {
		return nil, kgerr.Errorf(kgerr.Unavailable, "key %q version %d could not be opened in its backend", name, n)
	}
	tmpl := &x509.CertificateRequest{Subject: dn, DNSNames: dns}
	alg := keys.ECDSASHA256
	switch {
	case k.Spec == keys.ECCNISTP384:
		tmpl.SignatureAlgorithm, alg = x509.ECDSAWithSHA384, keys.ECDSASHA384
	case k.Spec.IsRSA():
		tmpl.SignatureAlgorithm, alg = x509.SHA256WithRSA, keys.RSASSAPKCS1V15SHA256
	default:
		tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, &backendSigner{ctx: ctx, k: h, alg: alg})
	if err != nil {
		if kgerr.KindOf(err) != kgerr.Internal {
			return nil, err // the backend's own error, passed through x509
		}
		return nil, kgerr.Wrap(kgerr.Internal, err, "certificate request could not be made")
	}
	return der, nil
}

// backendSigner is a crypto.Signer over a backend key, for x509: the
// digest is signed in the backend with the one algorithm chosen.
type backendSigner struct {
	ctx context.Context
	k   backends.Key
	alg keys.SigningAlgorithm
}

func (s *backendSigner) Public() crypto.PublicKey { return s.k.Public() }

func (s *backendSigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(s.ctx, s.alg, digest)
}

// ParseSubject reads "CN=...,O=...,OU=...,C=...,L=...,ST=...,serialNumber=..."
// (no escaped commas or quotes: a DS CA's subjects do not need them).
func ParseSubject(s string) (pkix.Name, error) {
	var n pkix.Name
	if strings.TrimSpace(s) == "" {
		return n, kgerr.Errorf(kgerr.InvalidArgument, "subject is required, e.g. \"CN=acs.example,O=Example\"")
	}
	if len(s) > 1024 || strings.ContainsAny(s, "\\\"+") {
		return n, kgerr.Errorf(kgerr.InvalidArgument, "subject: at most 1024 characters, without \\, \" or +")
	}
	for _, part := range strings.Split(s, ",") {
		attr, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		val = strings.TrimSpace(val)
		if !ok || val == "" {
			return n, kgerr.Errorf(kgerr.InvalidArgument, "subject: %q is not ATTRIBUTE=value", part)
		}
		switch strings.ToUpper(strings.TrimSpace(attr)) {
		case "CN":
			n.CommonName = val
		case "O":
			n.Organization = append(n.Organization, val)
		case "OU":
			n.OrganizationalUnit = append(n.OrganizationalUnit, val)
		case "C":
			n.Country = append(n.Country, val)
		case "L":
			n.Locality = append(n.Locality, val)
		case "ST":
			n.Province = append(n.Province, val)
		case "SERIALNUMBER":
			n.SerialNumber = val
		default:
			return n, kgerr.Errorf(kgerr.InvalidArgument, "subject: attribute %q is not one of CN, O, OU, C, L, ST, serialNumber", attr)
		}
	}
	return n, nil
}
