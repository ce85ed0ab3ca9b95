package main

import (
	"context"
	"flag"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// reEncryptCommands mirror `aws kms re-encrypt`.
var reEncryptCommands = []*command{
	{path: "re-encrypt", summary: "turn a ciphertext into one under a key's primary version, without the plaintext leaving keygate",
		detail: "Moves data off a retiring version (the default destination is the ciphertext's own\n" +
			"key), or to another key or backend. Needs kms:ReEncryptFrom on the source key and\n" +
			"kms:ReEncryptTo on the destination.",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.ReEncryptRequest{}
			file := fs.String("ciphertext-file", "", "the raw ciphertext (\"-\" = stdin; required)")
			src := contextVar(fs)
			dst := contextFlag{}
			fs.Var(dst, "destination-encryption-context", "the new ciphertext's context `k=v`, repeatable")
			fs.StringVar(&req.DestinationKeyId, "destination-key", "", "the key to encrypt under (default: the ciphertext's own key)")
			fs.StringVar(&req.DestinationEncryptionAlgorithm, "destination-algorithm", "", "SYMMETRIC_DEFAULT (default) or RSAES_OAEP_SHA_256")
			out := fs.String("out", "", "write the raw new ciphertext here (\"-\" = stdout) instead of base64 on stdout")
			return func(ctx context.Context, e *env, _ []string) (err error) {
				req.SourceEncryptionContext, req.DestinationEncryptionContext = src, dst
				if req.CiphertextBlob, err = e.read("ciphertext-file", *file); err != nil {
					return err
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.ReEncryptResponse, error) { return c.ReEncrypt(ctx, req) })
				if err != nil {
					return err
				}
				return e.emit(resp, "ciphertext_blob", resp.CiphertextBlob, *out)
			}
		}},
}
