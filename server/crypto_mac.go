package server

import (
	"context"
	"crypto/subtle"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

func (cs *cryptoService) GenerateMac(ctx context.Context, req *pb.GenerateMacRequest) (*pb.GenerateMacResponse, error) {
	c := callOf(ctx)
	v, h := c.version, c.handle
	alg, err := macAlgorithm(c.Key.Key, req.MacAlgorithm)
	if err != nil {
		return nil, err
	}
	if err := checkSize("message", req.Message); err != nil {
		return nil, err
	}
	mac, err := h.MAC(ctx, alg, req.Message)
	if err != nil {
		return nil, err
	}
	return &pb.GenerateMacResponse{KeyId: req.KeyId, KeyVersion: v.Number, Mac: mac, MacAlgorithm: string(alg)}, nil
}

func (cs *cryptoService) VerifyMac(ctx context.Context, req *pb.VerifyMacRequest) (*pb.VerifyMacResponse, error) {
	c := callOf(ctx)
	v, h := c.version, c.handle
	alg, err := macAlgorithm(c.Key.Key, req.MacAlgorithm)
	if err != nil {
		return nil, err
	}
	if len(req.Mac) == 0 || len(req.Mac) > 64 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "mac must be 1 to 64 bytes")
	}
	if err := checkSize("message", req.Message); err != nil {
		return nil, err
	}
	var valid bool
	if mv, ok := h.(backends.MacVerifier); ok {
		if valid, err = mv.VerifyMAC(ctx, alg, req.Message, req.Mac); err != nil {
			return nil, err
		}
	} else {
		mac, err := h.MAC(ctx, alg, req.Message)
		if err != nil {
			return nil, err
		}
		valid = subtle.ConstantTimeCompare(mac, req.Mac) == 1
	}
	return &pb.VerifyMacResponse{KeyId: req.KeyId, KeyVersion: v.Number, MacValid: valid, MacAlgorithm: string(alg)}, nil
}
