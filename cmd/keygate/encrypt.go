package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"text/tabwriter"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// encryptCommands mirror `aws kms encrypt`, `decrypt` and
// `generate-data-key`. Ciphertexts name their key and version, so decrypt
// needs no key name.
var encryptCommands = []*command{
	{path: "encrypt", args: []string{"NAME"}, summary: "encrypt at most 4096 bytes under a key, bound to an encryption context",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.EncryptRequest{}
			file := fs.String("plaintext-file", "", "the plaintext (\"-\" = stdin; required)")
			ec := contextVar(fs)
			fs.StringVar(&req.EncryptionAlgorithm, "algorithm", "", "SYMMETRIC_DEFAULT (default) or RSAES_OAEP_SHA_256")
			out := fs.String("out", "", "write the raw ciphertext here (\"-\" = stdout) instead of base64 on stdout")
			return func(ctx context.Context, e *env, args []string) (err error) {
				req.KeyId, req.EncryptionContext = args[0], ec
				if req.Plaintext, err = e.read("plaintext-file", *file); err != nil {
					return err
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.EncryptResponse, error) { return c.Encrypt(ctx, req) })
				if err != nil {
					return err
				}
				return e.emit(resp, "ciphertext_blob", resp.CiphertextBlob, *out)
			}
		}},
	{path: "decrypt", summary: "decrypt a keygate ciphertext with the encryption context it was made with",
		detail: "The ciphertext names its key and version. A wrong context or a tampered\n" +
			"ciphertext fails with InvalidArgument (exit 3), saying nothing about why.",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.DecryptRequest{}
			file := fs.String("ciphertext-file", "", "the raw ciphertext (\"-\" = stdin; required)")
			ec := contextVar(fs)
			fs.StringVar(&req.KeyId, "key-id", "", "fail unless the ciphertext was made by this key (--key is the client key file)")
			fs.StringVar(&req.EncryptionAlgorithm, "algorithm", "", "fail unless the ciphertext used this algorithm")
			out := fs.String("out", "", "write the raw plaintext here (\"-\" = stdout) instead of base64 on stdout")
			return func(ctx context.Context, e *env, _ []string) (err error) {
				req.EncryptionContext = ec
				if req.CiphertextBlob, err = e.read("ciphertext-file", *file); err != nil {
					return err
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.DecryptResponse, error) { return c.Decrypt(ctx, req) })
				if err != nil {
					return err
				}
				return e.emit(resp, "plaintext", resp.Plaintext, *out)
			}
		}},
	{path: "generate-data-key", args: []string{"NAME"}, summary: "make a data key: its plaintext and its ciphertext under NAME",
		detail: "--out gets the raw ciphertext and --plaintext-out the raw data key (files are\n" +
			"created 0600). Without them the table shows both in base64, and --output json\n" +
			"gives ciphertext_blob and plaintext in base64.",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.GenerateDataKeyRequest{}
			fs.StringVar(&req.KeySpec, "key-spec", "", "AES_256 (default) or AES_128")
			n := fs.Uint("number-of-bytes", 0, "data key length in bytes (1-1024) instead of --key-spec")
			ec := contextVar(fs)
			out := fs.String("out", "", "write the raw ciphertext of the data key here")
			ptOut := fs.String("plaintext-out", "", "write the raw plaintext data key here")
			return func(ctx context.Context, e *env, args []string) error {
				req.KeyId, req.EncryptionContext, req.NumberOfBytes = args[0], ec, uint32(*n)
				if *out == "-" || *ptOut == "-" {
					return usageErr("generate-data-key writes two outputs: give files to --out and --plaintext-out")
				}
				resp, err := call(e.crypto, func(c pb.CryptoServiceClient) (*pb.GenerateDataKeyResponse, error) {
					return c.GenerateDataKey(ctx, req)
				})
				if err != nil {
					return err
				}
				return e.emitDataKey(resp, *out, *ptOut)
			}
		}},
}

func (e *env) emitDataKey(resp *pb.GenerateDataKeyResponse, out, ptOut string) error {
	files := map[string]string{}
	for _, f := range []struct {
		field, path string
		blob        []byte
	}{{"ciphertext_blob", out, resp.CiphertextBlob}, {"plaintext", ptOut, resp.Plaintext}} {
		if f.path == "" {
			continue
		}
		if err := e.write(f.path, f.blob); err != nil {
			return err
		}
		files[f.field] = f.path
	}
	if e.json() {
		return e.printJSON(resp, files)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "Key:\t%s\nVersion:\t%d\n", resp.KeyId, resp.KeyVersion)
	if out == "" {
		fmt.Fprintf(tw, "Ciphertext:\t%s\n", base64.StdEncoding.EncodeToString(resp.CiphertextBlob))
	} else {
		fmt.Fprintf(tw, "Ciphertext:\twritten to %s\n", out)
	}
	if ptOut == "" {
		fmt.Fprintf(tw, "Plaintext:\t%s\n", base64.StdEncoding.EncodeToString(resp.Plaintext))
	} else {
		fmt.Fprintf(tw, "Plaintext:\twritten to %s\n", ptOut)
	}
	return tw.Flush()
}
