package server

import (
	"context"
	"crypto/x509"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys/keyring"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Bring your own key: thin handlers over the keyring's ImportParams and
// Import (keys/keyring/import.go). The audit event names the version; the
// material and the token never reach it.

func (as *adminService) GetParametersForImport(ctx context.Context, req *pb.GetParametersForImportRequest) (*pb.GetParametersForImportResponse, error) {
	c := callOf(ctx)
	p, err := as.s.keys.ImportParams(ctx, req.KeyId, req.Version, backends.WrappingAlgorithm(req.WrappingAlgorithm))
	c.Version = p.Version
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(p.PublicKey)
	if err != nil {
		return nil, err
	}
	c.Detail = "wrapping algorithm " + string(p.Algorithm) + ", valid to " + p.ExpiresAt.Format("2006-01-02T15:04:05Z")
	return &pb.GetParametersForImportResponse{Version: p.Version, WrappingAlgorithm: string(p.Algorithm), PublicKey: der,
		ImportToken: p.Token, ValidTo: timestamppb.New(p.ExpiresAt)}, nil
}

func (as *adminService) ImportKeyMaterial(ctx context.Context, req *pb.ImportKeyMaterialRequest) (*pb.ImportKeyMaterialResponse, error) {
	md, v, t, err := as.lifecycle(ctx, req.KeyId, req.Version, func(ctx context.Context) (*keyring.Entry, keyring.Transition, error) {
		return as.s.keys.Import(ctx, req.KeyId, req.Version, req.ImportToken, req.EncryptedKeyMaterial)
	})
	return &pb.ImportKeyMaterialResponse{Key: md, Version: v, Transition: t}, err
}
