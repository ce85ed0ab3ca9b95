package main

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// signCommands mirror `aws kms sign` and `aws kms verify`.
var signCommands = []*command{
	{path: "sign", args: []string{"NAME"}, summary: "sign a message (RAW, at most 4096 bytes) or a DIGEST",
		detail: "ECDSA signatures are ASN.1 DER, as KMS returns them and openssl expects:\n" +
			"  keygate sign acs-signing --message-file m --out sig",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.SignRequest{}
			file := fs.String("message-file", "", "the message, or its digest with --message-type DIGEST (\"-\" = stdin; required)")
			fs.StringVar(&req.MessageType, "message-type", "", "RAW (default) or DIGEST")
			fs.StringVar(&req.SigningAlgorithm, "algorithm", "", "ECDSA_SHA_256, RSASSA_PSS_SHA_256, RSASSA_PKCS1_V1_5_SHA_256, ... (default: the key's first)")
			out := fs.String("out", "", "write the raw signature here (\"-\" = stdout) instead of base64 on stdout")
			return func(ctx context.Context, e *env, args []string) (err error) {
				req.KeyId = args[0]
				if req.Message, err = e.read("message-file", *file); err != nil {
					return err
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.SignResponse, error) { return c.Sign(ctx, req) })
				if err != nil {
					return err
				}
				return e.emit(resp, "signature", resp.Signature, *out)
			}
		}},
	{path: "verify", args: []string{"NAME"}, summary: "verify a signature: prints valid or invalid, exit 1 when invalid",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.VerifyRequest{}
			file := fs.String("message-file", "", "the message or digest that was signed (\"-\" = stdin; required)")
			sig := fs.String("signature-file", "", "the raw signature (\"-\" = stdin; required)")
			fs.StringVar(&req.MessageType, "message-type", "", "RAW (default) or DIGEST")
			fs.StringVar(&req.SigningAlgorithm, "algorithm", "", "signing algorithm (default: the key's first)")
			version := fs.Uint("version", 0, "key version that signed (default: the primary version)")
			return func(ctx context.Context, e *env, args []string) (err error) {
				req.KeyId, req.KeyVersion = args[0], uint32(*version)
				if req.Message, err = e.read("message-file", *file); err != nil {
					return err
				}
				if req.Signature, err = e.read("signature-file", *sig); err != nil {
					return err
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.VerifyResponse, error) { return c.Verify(ctx, req) })
				if err != nil {
					return err
				}
				return e.verdict(resp, resp.SignatureValid)
			}
		}},
}

// verdict prints the outcome of a verification; an invalid signature or
// MAC is exit code 1 so that `keygate verify ... && next` is safe.
func (e *env) verdict(resp proto.Message, valid bool) error {
	if e.json() {
		if err := e.printJSON(resp, nil); err != nil {
			return err
		}
	} else if valid {
		fmt.Fprintln(e.stdout, "valid")
	} else {
		fmt.Fprintln(e.stdout, "invalid")
	}
	if !valid {
		return errInvalid
	}
	return nil
}
