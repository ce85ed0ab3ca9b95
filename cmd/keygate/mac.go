package main

import (
	"context"
	"flag"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// macCommands mirror `aws kms generate-mac` and `verify-mac`.
var macCommands = []*command{
	{path: "mac", args: []string{"NAME"}, summary: "compute an HMAC of a message under a GENERATE_VERIFY_MAC key",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.GenerateMacRequest{}
			file := fs.String("message-file", "", "the message (\"-\" = stdin; required)")
			fs.StringVar(&req.MacAlgorithm, "algorithm", "", "HMAC_SHA_256, HMAC_SHA_384 or HMAC_SHA_512 (default: the key's own)")
			out := fs.String("out", "", "write the raw MAC here (\"-\" = stdout) instead of base64 on stdout")
			return func(ctx context.Context, e *env, args []string) (err error) {
				req.KeyId = args[0]
				if req.Message, err = e.read("message-file", *file); err != nil {
					return err
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.GenerateMacResponse, error) { return c.GenerateMac(ctx, req) })
				if err != nil {
					return err
				}
				return e.emit(resp, "mac", resp.Mac, *out)
			}
		}},
	{path: "verify-mac", args: []string{"NAME"}, summary: "verify an HMAC: prints valid or invalid, exit 1 when invalid",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.VerifyMacRequest{}
			file := fs.String("message-file", "", "the message (\"-\" = stdin; required)")
			mac := fs.String("mac-file", "", "the raw MAC (\"-\" = stdin; required)")
			fs.StringVar(&req.MacAlgorithm, "algorithm", "", "MAC algorithm (default: the key's own)")
			version := fs.Uint("version", 0, "key version that made the MAC (default: the primary version)")
			return func(ctx context.Context, e *env, args []string) (err error) {
				req.KeyId, req.KeyVersion = args[0], uint32(*version)
				if req.Message, err = e.read("message-file", *file); err != nil {
					return err
				}
				if req.Mac, err = e.read("mac-file", *mac); err != nil {
					return err
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.VerifyMacResponse, error) { return c.VerifyMac(ctx, req) })
				if err != nil {
					return err
				}
				return e.verdict(resp, resp.MacValid)
			}
		}},
}
