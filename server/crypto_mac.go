package server

import (
	"context"
	"crypto/subtle"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

func (cs *cryptoService) GenerateMac(ctx context.Context, req *pb.GenerateMacRequest) (*pb.GenerateMacResponse, error) {
	c := callOf(ctx)
	var alg keys.MacAlgorithm
	v, h, err := cs.s.use(ctx, c, req.KeyId, 0, keys.GenerateVerifyMac, true, func(k *keys.Key) (err error) {
		if alg, err = macAlgorithm(k, req.MacAlgorithm); err != nil {
			return err
		}
		c.Algorithm = string(alg)
		return checkSize("message", req.Message)
	})
	if err != nil {
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
	var alg keys.MacAlgorithm
	v, h, err := cs.s.use(ctx, c, req.KeyId, req.KeyVersion, keys.GenerateVerifyMac, false, func(k *keys.Key) (err error) {
		if alg, err = macAlgorithm(k, req.MacAlgorithm); err != nil {
			return err
		}
		c.Algorithm = string(alg)
		if len(req.Mac) == 0 || len(req.Mac) > 64 {
			return kgerr.Errorf(kgerr.InvalidArgument, "mac must be 1 to 64 bytes")
		}
		return checkSize("message", req.Message)
	})
	if err != nil {
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
