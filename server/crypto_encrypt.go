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
	c.EncContext = req.EncryptionContext
	var alg keys.EncryptionAlgorithm
	v, h, err := cs.s.use(ctx, c, req.KeyId, 0, keys.EncryptDecrypt, true, func(k *keys.Key) (err error) {
		if alg, err = encAlgorithm(k, req.EncryptionAlgorithm); err != nil {
			return err
		}
		c.Algorithm = string(alg)
		if err := checkEncContext(req.EncryptionContext, alg); err != nil {
			return err
		}
		return checkSize("plaintext", req.Plaintext)
	})
	if err != nil {
		return nil, err
	}
	blob, err := h.Encrypt(ctx, alg, req.Plaintext, req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	ct := keys.Ciphertext{Key: req.KeyId, Version: v.Number, Algorithm: alg, Blob: blob}
	return &pb.EncryptResponse{KeyId: req.KeyId, KeyVersion: v.Number, CiphertextBlob: ct.Marshal(), EncryptionAlgorithm: string(alg)}, nil
}

func (cs *cryptoService) Decrypt(ctx context.Context, req *pb.DecryptRequest) (*pb.DecryptResponse, error) {
	c := callOf(ctx)
	c.EncContext = req.EncryptionContext
	if len(req.CiphertextBlob) == 0 || len(req.CiphertextBlob) > 6144 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "ciphertext_blob must be 1 to 6144 bytes")
	}
	ct, err := keys.ParseCiphertext(req.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	if req.KeyId != "" && req.KeyId != ct.Key {
		c.KeyName = req.KeyId
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "the ciphertext was not made by key %q", req.KeyId)
	}
	_, h, err := cs.s.use(ctx, c, ct.Key, ct.Version, keys.EncryptDecrypt, false, func(k *keys.Key) error {
		c.Algorithm = string(ct.Algorithm)
		if req.EncryptionAlgorithm != "" && keys.EncryptionAlgorithm(req.EncryptionAlgorithm) != ct.Algorithm {
			return kgerr.Errorf(kgerr.InvalidArgument, "encryption_algorithm %q does not match the ciphertext's", req.EncryptionAlgorithm)
		}
		if _, err := encAlgorithm(k, string(ct.Algorithm)); err != nil {
			return err
		}
		return checkEncContext(req.EncryptionContext, ct.Algorithm)
	})
	if err != nil {
		return nil, err
	}
	pt, err := h.Decrypt(ctx, ct.Algorithm, ct.Blob, req.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return &pb.DecryptResponse{KeyId: ct.Key, KeyVersion: ct.Version, Plaintext: pt, EncryptionAlgorithm: string(ct.Algorithm)}, nil
}

func (cs *cryptoService) GenerateDataKey(ctx context.Context, req *pb.GenerateDataKeyRequest) (*pb.GenerateDataKeyResponse, error) {
	c := callOf(ctx)
	c.EncContext = req.EncryptionContext
	var size int
	v, h, err := cs.s.use(ctx, c, req.KeyId, 0, keys.EncryptDecrypt, true, func(k *keys.Key) (err error) {
		if k.Spec != keys.SymmetricDefault {
			return kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s; data keys need a SYMMETRIC_DEFAULT key", k.Name, k.Spec)
		}
		c.Algorithm = string(keys.SymmetricDefaultAlg)
		if size, err = dataKeySize(req.KeySpec, req.NumberOfBytes); err != nil {
			return err
		}
		return checkEncContext(req.EncryptionContext, keys.SymmetricDefaultAlg)
	})
	if err != nil {
		return nil, err
	}
	var pt, blob []byte
	if g, ok := h.(backends.DataKeyGenerator); ok {
		pt, blob, err = g.GenerateDataKey(ctx, size, req.EncryptionContext)
	} else {
		pt = make([]byte, size)
		rand.Read(pt)
		blob, err = h.Encrypt(ctx, keys.SymmetricDefaultAlg, pt, req.EncryptionContext)
	}
	if err != nil {
		return nil, err
	}
	ct := keys.Ciphertext{Key: req.KeyId, Version: v.Number, Algorithm: keys.SymmetricDefaultAlg, Blob: blob}
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
