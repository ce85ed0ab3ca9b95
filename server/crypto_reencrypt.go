package server

import (
	"context"
	"strconv"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// ReEncrypt is a Decrypt authorized as kms:ReEncryptFrom on the source key
// and an Encrypt authorized as kms:ReEncryptTo on the destination; the
// plaintext stays in this function. The audit event is the source's, with
// the destination in its detail (and its decision if that denied).
func (cs *cryptoService) ReEncrypt(ctx context.Context, req *pb.ReEncryptRequest) (*pb.ReEncryptResponse, error) {
	c := callOf(ctx)
	c.EncContext = req.SourceEncryptionContext
	if len(req.CiphertextBlob) == 0 || len(req.CiphertextBlob) > 6144 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "ciphertext_blob must be 1 to 6144 bytes")
	}
	ct, err := keys.ParseCiphertext(req.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	dstName := req.DestinationKeyId
	if dstName == "" {
		dstName = ct.Key
	}
	_, src, err := cs.s.use(ctx, c, ct.Key, ct.Version, keys.EncryptDecrypt, false, func(k *keys.Key) error {
		c.Algorithm = string(ct.Algorithm)
		if _, err := encAlgorithm(k, string(ct.Algorithm)); err != nil {
			return err
		}
		return checkEncContext(req.SourceEncryptionContext, ct.Algorithm)
	})
	if err != nil {
		return nil, err
	}
	// The destination is authorized before anything is decrypted.
	dc := &Call{Start: c.Start, Method: c.Method, Action: "kms:ReEncryptTo", Principal: c.Principal, Peer: c.Peer,
		EncContext: req.DestinationEncryptionContext}
	var alg keys.EncryptionAlgorithm
	dv, dst, err := cs.s.use(ctx, dc, dstName, 0, keys.EncryptDecrypt, true, func(k *keys.Key) (err error) {
		if alg, err = encAlgorithm(k, req.DestinationEncryptionAlgorithm); err != nil {
			return err
		}
		return checkEncContext(req.DestinationEncryptionContext, alg)
	})
	c.Detail = "to " + dstName
	if err != nil {
		if dc.Decision != "Allow" && dc.Decision != "" {
			c.Decision, c.Sid = dc.Decision, dc.Sid
		}
		return nil, err
	}
	c.Detail += " v" + strconv.FormatUint(uint64(dv.Number), 10)
	pt, err := src.Decrypt(ctx, ct.Algorithm, ct.Blob, req.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	if err := checkSize("plaintext", pt); err != nil {
		return nil, err
	}
	blob, err := dst.Encrypt(ctx, alg, pt, req.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	out := keys.Ciphertext{Key: dstName, Version: dv.Number, Algorithm: alg, Blob: blob}
	return &pb.ReEncryptResponse{SourceKeyId: ct.Key, SourceKeyVersion: ct.Version, KeyId: dstName, KeyVersion: dv.Number,
		CiphertextBlob: out.Marshal(), DestinationEncryptionAlgorithm: string(alg)}, nil
}
