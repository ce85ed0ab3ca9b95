package server

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"

	"github.com/keygate/keygate/audit/report"
	"github.com/keygate/keygate/internal/kgerr"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// SignReportManifest signs an evidence pack's manifest with the audit
// checkpoint key. The digest carries report.ManifestDomain, which no
// checkpoint digest starts with, so an auditor cannot obtain a checkpoint
// signature this way.
func (as *auditService) SignReportManifest(ctx context.Context, req *pb.SignReportManifestRequest) (*pb.SignReportManifestResponse, error) {
	l, err := as.open(ctx)
	if err != nil {
		return nil, err
	}
	switch {
	case len(req.Manifest) == 0:
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "manifest is required")
	case len(req.Manifest) > report.MaxManifest:
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "manifest is larger than %d bytes", report.MaxManifest)
	}
	digest := report.ManifestDigest(req.Manifest)
	// The log says which manifest the key vouched for.
	callOf(ctx).Detail = "evidence pack manifest signed: digest " + hex.EncodeToString(digest)
	sig, err := as.s.chain.signer.Sign(ctx, digest)
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Unavailable, err, "the checkpoint key could not sign")
	}
	der, err := x509.MarshalPKIXPublicKey(as.s.chain.signerPublic())
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, "checkpoint key")
	}
	return &pb.SignReportManifestResponse{Signature: sig, KeyId: l.KeyID(),
		PublicKeyPem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
}
