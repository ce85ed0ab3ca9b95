package server

import (
	"context"
	"strconv"

	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// ReEncrypt is a Decrypt authorized as kms:ReEncryptFrom on the source key
// and an Encrypt authorized as kms:ReEncryptTo on the destination; the
// plaintext stays in this function. The audit event is the source's, with
// the destination in its detail (and its decision if that denied).
func (cs *cryptoService) ReEncrypt(ctx context.Context, req *pb.ReEncryptRequest) (*pb.ReEncryptResponse, error) {
	c := callOf(ctx)
	ct, err := keys.ParseCiphertext(req.CiphertextBlob) // the pipeline resolved its key from it
	if err != nil {
		return nil, err
	}
	if _, err := encAlgorithm(c.Key.Key, string(ct.Algorithm)); err != nil {
		return nil, err
	}
	if err := checkEncContext(req.SourceEncryptionContext, ct.Algorithm); err != nil {
		return nil, err
	}
	dstName := req.DestinationKeyId
	if dstName == "" {
		dstName = ct.Key
	}
	// The destination is authorized before anything is decrypted.
	c.Detail = "to " + dstName
	dc, err := cs.s.secondKey(ctx, c, dstName, "kms:ReEncryptTo", keys.EncryptDecrypt, true, func(dc *Call) {
		dc.EncContext, dc.Algorithm = req.DestinationEncryptionContext, req.DestinationEncryptionAlgorithm
	})
	if err != nil {
		return nil, err
	}
	alg, err := encAlgorithm(dc.Key.Key, req.DestinationEncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	if err := checkEncContext(req.DestinationEncryptionContext, alg); err != nil {
		return nil, err
	}
	c.Detail += " v" + strconv.FormatUint(uint64(dc.version.Number), 10)
	pt, err := c.handle.Decrypt(ctx, ct.Algorithm, ct.Blob, ct.Context(req.SourceEncryptionContext))
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	if err := checkSize("plaintext", pt); err != nil {
		return nil, err
	}
	out := keys.Ciphertext{Key: dstName, Version: dc.version.Number, Algorithm: alg}
	if out.Blob, err = dc.handle.Encrypt(ctx, alg, pt, out.Context(req.DestinationEncryptionContext)); err != nil {
		return nil, err
	}
	return &pb.ReEncryptResponse{SourceKeyId: ct.Key, SourceKeyVersion: ct.Version, KeyId: dstName, KeyVersion: dc.version.Number,
		CiphertextBlob: out.Marshal(), DestinationEncryptionAlgorithm: string(alg)}, nil
}
