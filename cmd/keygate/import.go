package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// importCommands bring your own key: the wrapping parameters, then the
// wrapped material (README "Importing key material").
var importCommands = []*command{
	{path: "keys import-params", args: []string{"NAME"},
		summary: "make a wrapping key (RSA 3072, valid 24 h) and an import token for the key's next version",
		detail: "  keygate keys import-params data-key --version 2 --wrapping-algorithm RSA_AES_KEY_WRAP_SHA_1 \\\n" +
			"      --public-key-out WrappingPublicKey.der --import-token-out ImportToken.txt\n" +
			"Algorithms: RSA_AES_KEY_WRAP_SHA_256 (the default), RSA_AES_KEY_WRAP_SHA_1, RSAES_OAEP_SHA_256, RSAES_OAEP_SHA_1.",
		setup: func(fs *flag.FlagSet) action {
			version := fs.Uint("version", 0, "the version to import into: the key's next version (default: that one)")
			alg := fs.String("wrapping-algorithm", "", "how the material will be wrapped (default RSA_AES_KEY_WRAP_SHA_256)")
			pubOut := fs.String("public-key-out", "", "write the wrapping public key here, DER SubjectPublicKeyInfo (required)")
			tokenOut := fs.String("import-token-out", "", "also write the import token to this file")
			return func(ctx context.Context, e *env, args []string) error {
				if *pubOut == "" {
					return usageErr("--public-key-out is required")
				}
				c, err := e.admin()
				if err != nil {
					return err
				}
				resp, err := c.GetParametersForImport(ctx, &pb.GetParametersForImportRequest{KeyId: args[0],
					Version: uint32(min(*version, 1<<31)), WrappingAlgorithm: *alg})
				if err != nil {
					return err
				}
				if err := e.write(*pubOut, resp.PublicKey); err != nil {
					return err
				}
				if *tokenOut != "" {
					if err := e.write(*tokenOut, []byte(resp.ImportToken+"\n")); err != nil {
						return err
					}
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				fmt.Fprintf(e.stdout, "version:            %d\nwrapping algorithm: %s\nvalid to:           %s\npublic key:         %s\nimport token:       %s\n",
					resp.Version, resp.WrappingAlgorithm, resp.ValidTo.AsTime().Format(time.RFC3339), *pubOut, resp.ImportToken)
				return nil
			}
		}},
	{path: "keys import", args: []string{"NAME"},
		summary: "unwrap key material (wrapped under import-params' public key) inside the backend into the key's next version",
		detail:  "  keygate keys import data-key --version 2 --material-file material.wrapped --import-token-file ImportToken.txt",
		setup: func(fs *flag.FlagSet) action {
			version := fs.Uint("version", 0, "the version named by import-params (required)")
			material := fs.String("material-file", "", "the wrapped material (required; - is stdin)")
			token := fs.String("import-token", "", "the import token import-params printed")
			tokenFile := fs.String("import-token-file", "", "or the file import-params wrote it to")
			return func(ctx context.Context, e *env, args []string) error {
				if *version == 0 {
					return usageErr("--version is required")
				}
				if (*token == "") == (*tokenFile == "") {
					return usageErr("give one of --import-token and --import-token-file")
				}
				if *tokenFile != "" {
					b, err := e.read("import-token-file", *tokenFile)
					if err != nil {
						return err
					}
					*token = strings.TrimSpace(string(b))
				}
				wrapped, err := e.read("material-file", *material)
				if err != nil {
					return err
				}
				return transitionCall(ctx, e, func(c pb.KeyAdminServiceClient) (transitionResponse, error) {
					return c.ImportKeyMaterial(ctx, &pb.ImportKeyMaterialRequest{KeyId: args[0], Version: uint32(min(*version, 1<<31)),
						ImportToken: *token, EncryptedKeyMaterial: wrapped})
				})
			}
		}},
}
