package server

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/internal/kgerr"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

const maxChainPEM = 64 << 10

func (as *adminService) ImportCertificate(ctx context.Context, req *pb.ImportCertificateRequest) (*pb.ImportCertificateResponse, error) {
	c := callOf(ctx)
	c.Version = req.Version
	if k := c.Key.Key; !k.Spec.IsEC() && !k.Spec.IsRSA() { // before reading the chain: nothing to certify
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s: it has no public key to certify", k.Name, k.Spec)
	}
	chain, err := parseChain(req.ChainPem)
	if err != nil {
		return nil, err
	}
	var root *x509.Certificate
	if req.RootPem != "" {
		roots, err := parseChain(req.RootPem)
		if err != nil || len(roots) != 1 {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "root_pem must hold exactly one PEM certificate")
		}
		root = roots[0]
	}
	updated, res, err := as.s.keys.ImportChain(ctx, req.KeyId, req.Version, chain, root)
	c.Version = res.Version
	if err != nil {
		return nil, err
	}
	c.Key = updated
	c.Detail = "version " + strconv.FormatUint(uint64(res.Version), 10) + ": " + res.Leaf.Subject.String() + ", serial " + res.Leaf.SerialNumber.Text(16)
	if res.AnchorSet {
		c.Detail += "; trust anchor " + res.Anchor.Subject.String()
	}
	return &pb.ImportCertificateResponse{KeyId: req.KeyId, Version: res.Version, CertificateCount: uint32(len(chain)),
		LeafSubject: res.Leaf.Subject.String(), LeafNotAfter: timestamppb.New(res.Leaf.NotAfter)}, nil
}

func (as *adminService) CreateCertificateRequest(ctx context.Context, req *pb.CreateCertificateRequestRequest) (*pb.CreateCertificateRequestResponse, error) {
	c := callOf(ctx)
	c.Version = req.Version
	der, err := as.s.keys.CertificateRequest(ctx, req.KeyId, req.Version, req.Subject, req.DnsNames)
	if err != nil {
		return nil, err
	}
	c.Detail = "subject " + req.Subject
	return &pb.CreateCertificateRequestResponse{KeyId: req.KeyId, Version: req.Version,
		CsrPem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))}, nil
}

func (as *adminService) GetCertificate(ctx context.Context, req *pb.GetCertificateRequest) (*pb.GetCertificateResponse, error) {
	e := callOf(ctx).Key
	v := e.Key.Primary()
	if req.Version != 0 {
		v = e.Key.Version(req.Version)
	}
	if v == nil {
		return nil, kgerr.Errorf(kgerr.NotFound, "key %q has no such version", req.KeyId)
	}
	if len(v.CertChain) == 0 {
		return nil, kgerr.Errorf(kgerr.NotFound, "key %q version %d has no certificate chain", req.KeyId, v.Number)
	}
	var out []byte
	for _, der := range v.CertChain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return &pb.GetCertificateResponse{ChainPem: string(out)}, nil
}

// parseChain reads PEM certificates, leaf first, each signed by the next.
func parseChain(s string) ([]*x509.Certificate, error) {
	if len(s) > maxChainPEM {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "chain_pem is larger than %d bytes", maxChainPEM)
	}
	var chain []*x509.Certificate
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "chain_pem holds a %s block; only certificates belong in a chain", b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "chain_pem certificate %d does not parse", len(chain)+1)
		}
		chain = append(chain, cert)
	}
	if len(chain) == 0 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "chain_pem holds no PEM certificate")
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "chain_pem certificate %d is not signed by certificate %d (the chain goes leaf first)", i+1, i+2)
		}
	}
	return chain, nil
}
