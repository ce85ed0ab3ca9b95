package server

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

const maxChainPEM = 64 << 10

func (as *adminService) ImportCertificate(ctx context.Context, req *pb.ImportCertificateRequest) (*pb.ImportCertificateResponse, error) {
	c := callOf(ctx)
	e := c.Key
	n := req.Version
	if n == 0 {
		p := e.Key.Primary()
		if p == nil {
			return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q has no active version; name one", req.KeyId)
		}
		n = p.Number
	}
	h, ok := e.Opened(n)
	if !ok || h.Public() == nil {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q version %d has no public key to certify", req.KeyId, n)
	}
	chain, err := parseChain(req.ChainPem)
	if err != nil {
		return nil, err
	}
	if !publicEqual(chain[0].PublicKey, h.Public()) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "the leaf certificate does not certify key %q version %d", req.KeyId, n)
	}
	der := make([][]byte, len(chain))
	for i, cert := range chain {
		der[i] = cert.Raw
	}
	updated, err := as.s.keys.Update(ctx, req.KeyId, func(k *keys.Key) error {
		v := k.Version(n)
		if v == nil {
			return kgerr.Errorf(kgerr.NotFound, "key %q has no version %d", req.KeyId, n)
		}
		v.CertChain = der
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Key, c.Version = updated, n
	c.Detail = "version " + strconv.FormatUint(uint64(n), 10) + ": " + chain[0].Subject.String() + ", serial " + chain[0].SerialNumber.Text(16)
	return &pb.ImportCertificateResponse{KeyId: req.KeyId, Version: n, CertificateCount: uint32(len(der)),
		LeafSubject: chain[0].Subject.String(), LeafNotAfter: timestamppb.New(chain[0].NotAfter)}, nil
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

func publicEqual(a, b any) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}
