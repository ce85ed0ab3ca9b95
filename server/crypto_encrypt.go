package server

import (
	"context"
	"crypto/rand"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

func (cs *cryptoService) Encrypt(ctx context.Context, req *pb.EncryptRequest) (*pb.EncryptResponse, error) {
	c := callOf(ctx)
	v, h := c.version, c.handle
	alg, err := encAlgorithm(c.Key.Key, req.EncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	if err := checkEncContext(req.EncryptionContext, alg); err != nil {
		return nil, err
	}
	if err := checkSize("plaintext", req.Plaintext); err != nil {
		return nil, err
	}
	ct := keys.Ciphertext{Key: req.KeyId, Version: v.Number, Algorithm: alg}
	blob, err := h.Encrypt(ctx, alg, req.Plaintext, ct.Context(req.EncryptionContext))
	if err != nil {
		return nil, err
	}
	ct.Blob = blob
	return &pb.EncryptResponse{KeyId: req.KeyId, KeyVersion: v.Number, CiphertextBlob: ct.Marshal(), EncryptionAlgorithm: string(alg)}, nil
}

func (cs *cryptoService) Decrypt(ctx context.Context, req *pb.DecryptRequest) (*pb.DecryptResponse, error) {
	c := callOf(ctx)
	h := c.handle
	ct, err := keys.ParseCiphertext(req.CiphertextBlob) // the pipeline found its key by it
	if err != nil {
		return nil, err
	}
	if req.EncryptionAlgorithm != "" && keys.EncryptionAlgorithm(req.EncryptionAlgorithm) != ct.Algorithm {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "encryption_algorithm %q does not match the ciphertext's", req.EncryptionAlgorithm)
	}
	if _, err := encAlgorithm(c.Key.Key, string(ct.Algorithm)); err != nil {
		return nil, err
	}
	if err := checkEncContext(req.EncryptionContext, ct.Algorithm); err != nil {
		return nil, err
	}
	pt, err := h.Decrypt(ctx, ct.Algorithm, ct.Blob, ct.Context(req.EncryptionContext))
	if err != nil {
		return nil, err
	}
	return &pb.DecryptResponse{KeyId: ct.Key, KeyVersion: ct.Version, Plaintext: pt, EncryptionAlgorithm: string(ct.Algorithm)}, nil
}

func (cs *cryptoService) GenerateDataKey(ctx context.Context, req *pb.GenerateDataKeyRequest) (*pb.GenerateDataKeyResponse, error) {
	c := callOf(ctx)
	v, h, k := c.version, c.handle, c.Key.Key
	if k.Spec != keys.SymmetricDefault {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s; data keys need a SYMMETRIC_DEFAULT key", k.Name, k.Spec)
	}
	size, err := dataKeySize(req.KeySpec, req.NumberOfBytes)
	if err != nil {
		return nil, err
	}
	if err := checkEncContext(req.EncryptionContext, keys.SymmetricDefaultAlg); err != nil {
		return nil, err
	}
	ct := keys.Ciphertext{Key: req.KeyId, Version: v.Number, Algorithm: keys.SymmetricDefaultAlg}
	bound := ct.Context(req.EncryptionContext)
	var pt []byte
	if g, ok := h.(backends.DataKeyGenerator); ok {
		pt, ct.Blob, err = g.GenerateDataKey(ctx, size, bound)
	} else {
		pt = make([]byte, size)
		rand.Read(pt)
		ct.Blob, err = h.Encrypt(ctx, keys.SymmetricDefaultAlg, pt, bound)
	}
	if err != nil {
		return nil, err
	}
	return &pb.GenerateDataKeyResponse{KeyId: req.KeyId, KeyVersion: v.Number, CiphertextBlob: ct.Marshal(), Plaintext: pt}, nil
}

func dataKeySize(spec string, n uint32) (int, error) {
	switch {
	case spec != "" && n != 0:
		return 0, kgerr.Errorf(kgerr.InvalidArgument, "set key_spec or number_of_bytes, not both")
	case n != 0:
		if n > maxDataKeyBytes {
			return 0, kgerr.Errorf(kgerr.InvalidArgument, "number_of_bytes must be 1 to %d", maxDataKeyBytes)
		}
		return int(n), nil
	case spec == "" || spec == "AES_256":
		return 32, nil
	case spec == "AES_128":
		return 16, nil
	}
	return 0, kgerr.Errorf(kgerr.InvalidArgument, "key_spec %q: want AES_256 or AES_128", spec)
}
