package main

import (
	"context"
	"flag"
	"fmt"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// certCommands keep a key version's certificate chain: the ACS signing
// key's chain from the DS CA goes into acsSignedContent's x5c.
var certCommands = []*command{
	{path: "keys import-cert", args: []string{"NAME"}, summary: "store a key version's certificate chain (PEM, leaf first)",
		detail: "The server checks, and a refusal names the check: the leaf certifies the version's own\n" +
			"public key (leaf key); the chain verifies to the key's trust anchor, or --root (trust anchor;\n" +
			"on a key's first import without --root, the chain's own self-signed root becomes it); the leaf\n" +
			"is valid now (validity); a signing key's leaf allows digitalSignature (key usage).",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.ImportCertificateRequest{}
			file := fs.String("chain-file", "", "PEM certificates, leaf first (\"-\" = stdin; required)")
			fs.StringVar(file, "chain", "", "the same as --chain-file")
			version := fs.Uint("version", 0, "key version (default: the primary version)")
			root := fs.String("root", "", "the trust anchor (PEM root certificate, e.g. the DS CA's) the chain must verify to; it becomes the key's")
			return func(ctx context.Context, e *env, args []string) error {
				b, err := e.read("chain-file", *file)
				if err != nil {
					return err
				}
				req.KeyId, req.Version, req.ChainPem = args[0], uint32(*version), string(b)
				if *root != "" {
					r, err := e.read("root", *root)
					if err != nil {
						return err
					}
					req.RootPem = string(r)
				}
				resp, err := call(e.admin, func(c pb.KeyAdminServiceClient) (*pb.ImportCertificateResponse, error) {
					return c.ImportCertificate(ctx, req)
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				_, err = fmt.Fprintf(e.stdout, "%s version %d: %d certificates imported; leaf %s, valid until %s\n",
					resp.KeyId, resp.Version, resp.CertificateCount, resp.LeafSubject, when(resp.LeafNotAfter))
				return err
			}
		}},
	{path: "keys get-cert", args: []string{"NAME"}, summary: "print a key version's certificate chain (PEM, leaf first)",
		setup: func(fs *flag.FlagSet) action {
			version := fs.Uint("version", 0, "key version (default: the primary version)")
			out := fs.String("out", "", "write the PEM to this file instead of stdout")
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.admin()
				if err != nil {
					return err
				}
				resp, err := c.GetCertificate(ctx, &pb.GetCertificateRequest{KeyId: args[0], Version: uint32(*version)})
				switch {
				case err != nil:
					return err
				case *out != "":
					return e.write(*out, []byte(resp.ChainPem))
				case e.json():
					return e.printJSON(resp, nil)
				}
				_, err = fmt.Fprint(e.stdout, resp.ChainPem)
				return err
			}
		}},
}
