package harness

import (
	"context"
	"crypto/x509"

	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// CertifyKey has the env's CA certify signing key name's public key (its
// primary version's) under common name cn, and imports the chain, leaf
// then CA, as admin: what an ACS signing key needs before
// CreateAcsSession.
func (e *Env) CertifyKey(name, cn string) {
	e.T.Helper()
	ctx := context.Background()
	pub, err := e.Crypto("acs").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: name})
	must(e.T, err)
	key, err := x509.ParsePKIXPublicKey(pub.PublicKey)
	must(e.T, err)
	cert, err := e.CA.Sign(cn, key)
	must(e.T, err)
	chain := string(devca.CertPEM(cert)) + string(devca.CertPEM(e.CA.Cert))
	_, err = e.Admin("admin").ImportCertificate(ctx, &pb.ImportCertificateRequest{KeyId: name, ChainPem: chain})
	must(e.T, err)
}
