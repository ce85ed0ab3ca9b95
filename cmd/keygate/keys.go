package main

import (
	"context"
	"encoding/pem"
	"flag"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// keyCommands administer logical keys through KeyAdminService (and
// CryptoService.GetPublicKey, which operators need alongside).
var keyCommands = []*command{
	{path: "keys create", args: []string{"NAME"}, summary: "create a key (generated in its backend, or adopt one with --backend-key-id)",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.CreateKeyRequest{}
			fs.StringVar(&req.KeySpec, "key-spec", "", "ECC_NIST_P256, ECC_NIST_P384, RSA_2048/3072/4096, SYMMETRIC_DEFAULT, HMAC_256/384/512, HMAC_160 (SHA-1, PKCS#11 only) (required)")
			fs.StringVar(&req.KeyUsage, "key-usage", "", "SIGN_VERIFY, ENCRYPT_DECRYPT, GENERATE_VERIFY_MAC or KEY_AGREEMENT (required)")
			fs.StringVar(&req.Description, "description", "", "what the key is for")
			fs.StringVar(&req.Backend, "backend", "", "configured backend to create it in (default: the server's default)")
			fs.StringVar(&req.BackendKeyId, "backend-key-id", "", "adopt this existing backend key (KMS key id, ARN or alias) instead of generating one")
			fs.StringVar(&req.BackendKeyId, "kms-key-id", "", "the same as --backend-key-id, for a KMS backend")
			policy := fs.String("policy-file", "", "key policy, AWS key-policy JSON (\"-\" = stdin; default: admins administer, nobody uses)")
			forceVar(fs, &req.BypassPolicyLockoutSafetyCheck, "accept a policy that locks the admins out")
			fs.BoolVar(&req.AllowRawSharedSecret, "allow-raw-shared-secret", false, "KEY_AGREEMENT keys: let derive --kdf RAW return the raw ECDH secret")
			var rot, cp daysFlag
			fs.Var(&rot, "rotation-period", "rotate automatically when the primary is this old, 90d..2560d (symmetric and HMAC keys)")
			fs.Var(&cp, "cryptoperiod", "how long a version may make new outputs, 1d..3650d (default: the server's for the usage)")
			return func(ctx context.Context, e *env, args []string) (err error) {
				req.RotationPeriodInDays, req.CryptoperiodDays = rot.days, cp.days
				if req.KeySpec == "" || req.KeyUsage == "" {
					return usageErr("--key-spec and --key-usage are required")
				}
				req.KeyId = args[0]
				if *policy != "" {
					if req.Policy, err = e.readPolicy("policy-file", *policy); err != nil {
						return err
					}
				}
				return adminCall(ctx, e, func(c pb.KeyAdminServiceClient) (keyResponse, error) { return c.CreateKey(ctx, req) })
			}
		}},
	{path: "keys list", summary: "list all keys (every page)",
		setup: func(fs *flag.FlagSet) action {
			size := fs.Uint("page-size", 100, "keys per request (1-1000)")
			return func(ctx context.Context, e *env, _ []string) error {
				c, err := e.admin()
				if err != nil {
					return err
				}
				all := &pb.ListKeysResponse{}
				req := &pb.ListKeysRequest{PageSize: uint32(*size)}
				for {
					resp, err := c.ListKeys(ctx, req)
					if err != nil {
						return err
					}
					all.Keys = append(all.Keys, resp.Keys...)
					if resp.NextPageToken == "" {
						break
					}
					req.PageToken = resp.NextPageToken
				}
				if e.json() {
					return e.printJSON(all, nil)
				}
				printKeys(e.stdout, all.Keys)
				return nil
			}
		}},
	{path: "keys describe", args: []string{"NAME"}, summary: "show a key and its versions",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				return adminCall(ctx, e, func(c pb.KeyAdminServiceClient) (keyResponse, error) {
					return c.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: args[0]})
				})
			}
		}},
	{path: "keys enable", args: []string{"NAME"}, summary: "enable a disabled key",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				return adminCall(ctx, e, func(c pb.KeyAdminServiceClient) (keyResponse, error) {
					return c.EnableKey(ctx, &pb.EnableKeyRequest{KeyId: args[0]})
				})
			}
		}},
	{path: "keys disable", args: []string{"NAME"}, summary: "disable a key: every operation with it fails until enabled",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				return adminCall(ctx, e, func(c pb.KeyAdminServiceClient) (keyResponse, error) {
					return c.DisableKey(ctx, &pb.DisableKeyRequest{KeyId: args[0]})
				})
			}
		}},
	{path: "keys public-key", args: []string{"NAME"}, summary: "print an asymmetric key's public key as PEM",
		detail: "The PEM is a SubjectPublicKeyInfo (\"PUBLIC KEY\"), as openssl expects:\n" +
			"  keygate keys public-key acs-signing > pub.pem\n  openssl dgst -sha256 -verify pub.pem -signature sig m",
		setup: func(fs *flag.FlagSet) action {
			version := fs.Uint("version", 0, "key version (default: the primary version)")
			out := fs.String("out", "", "write the PEM to this file instead of stdout")
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.crypto()
				if err != nil {
					return err
				}
				resp, err := c.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: args[0], KeyVersion: uint32(*version)})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: resp.PublicKey})
				if *out != "" {
					return e.write(*out, p)
				}
				_, err = e.stdout.Write(p)
				return err
			}
		}},
}

// keyResponse is any admin response that carries one key.
type keyResponse interface {
	GetKey() *pb.KeyMetadata
}

// adminCall runs one admin call that returns a key and prints the key.
func adminCall(ctx context.Context, e *env, call func(pb.KeyAdminServiceClient) (keyResponse, error)) error {
	c, err := e.admin()
	if err != nil {
		return err
	}
	resp, err := call(c)
	if err != nil {
		return err
	}
	// A creation held for a second admin (an adoption under dual control,
	// or a policy granting its creator use) made no key yet: it waits.
	if p, ok := resp.(interface{ GetPendingApproval() *pb.Approval }); ok && p.GetPendingApproval() != nil {
		if e.json() {
			return e.printJSON(p.GetPendingApproval(), nil)
		}
		printApproval(e.stdout, p.GetPendingApproval())
		return nil
	}
	if e.json() {
		return e.printJSON(resp.GetKey(), nil)
	}
	printKey(e.stdout, resp.GetKey())
	return nil
}
