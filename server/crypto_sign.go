package server

import (
	"context"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// cryptoService implements CryptoService on the server's keys.
type cryptoService struct {
	pb.UnimplementedCryptoServiceServer
	s *Server
}

func (cs *cryptoService) Sign(ctx context.Context, req *pb.SignRequest) (*pb.SignResponse, error) {
	c := callOf(ctx)
	v, h := c.version, c.handle
	alg, dig, err := signInput(c.Key.Key, req.SigningAlgorithm, req.MessageType, req.Message)
	if err != nil {
		return nil, err
	}
	sig, err := h.Sign(ctx, alg, dig)
	if err != nil {
		return nil, err
	}
	return &pb.SignResponse{KeyId: req.KeyId, KeyVersion: v.Number, Signature: sig, SigningAlgorithm: string(alg)}, nil
}

func (cs *cryptoService) Verify(ctx context.Context, req *pb.VerifyRequest) (*pb.VerifyResponse, error) {
	c := callOf(ctx)
	v, h := c.version, c.handle
	alg, dig, err := signInput(c.Key.Key, req.SigningAlgorithm, req.MessageType, req.Message)
	if err != nil {
		return nil, err
	}
	if len(req.Signature) == 0 || len(req.Signature) > 1024 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "signature must be 1 to 1024 bytes")
	}
	if h.Public() == nil {
		return nil, kgerr.Errorf(kgerr.Internal, "key %q has no public key to verify with", req.KeyId)
	}
	valid := false
	if rv, ok := h.(backends.Verifier); ok {
		if valid, err = rv.Verify(ctx, alg, dig, req.Signature); err != nil {
			return nil, err
		}
	} else {
		valid = backends.VerifyLocal(h.Public(), alg, dig, req.Signature)
	}
	return &pb.VerifyResponse{KeyId: req.KeyId, KeyVersion: v.Number, SignatureValid: valid, SigningAlgorithm: string(alg)}, nil
}

func (cs *cryptoService) GetPublicKey(ctx context.Context, req *pb.GetPublicKeyRequest) (*pb.GetPublicKeyResponse, error) {
	c := callOf(ctx)
	v, h, k := c.version, c.handle, c.Key.Key
	if h.Public() == nil {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q (%s) is symmetric and has no public key", req.KeyId, k.Spec)
	}
	der, err := publicDER(h.Public())
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, "public key could not be encoded")
	}
	resp := &pb.GetPublicKeyResponse{KeyId: req.KeyId, KeyVersion: v.Number, PublicKey: der,
		KeySpec: string(k.Spec), KeyUsage: string(k.Usage)}
	switch k.Usage {
	case keys.SignVerify:
		for _, a := range k.Spec.SigningAlgorithms() {
			resp.SigningAlgorithms = append(resp.SigningAlgorithms, string(a))
		}
	case keys.EncryptDecrypt:
		for _, a := range k.Spec.EncryptionAlgorithms() {
			resp.EncryptionAlgorithms = append(resp.EncryptionAlgorithms, string(a))
		}
	case keys.KeyAgreement:
		resp.KeyAgreementAlgorithms = []string{string(keys.ECDH)}
	}
	return resp, nil
}
