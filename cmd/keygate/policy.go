package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/keygate/keygate/policy"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// policyCommands read and change key policies (KeyAdminService) and
// explain, diff and push them (PolicyService). Documents are AWS key-policy
// JSON, as KMS takes them.
var policyCommands = []*command{
	{path: "keys get-policy", args: []string{"NAME"}, summary: "print a key's policy document",
		setup: func(fs *flag.FlagSet) action {
			out := fs.String("out", "", "write the document to this file instead of stdout")
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.admin()
				if err != nil {
					return err
				}
				resp, err := c.GetKeyPolicy(ctx, &pb.GetKeyPolicyRequest{KeyId: args[0]})
				if err != nil {
					return err
				}
				doc := []byte(resp.Policy)
				if !strings.HasSuffix(resp.Policy, "\n") {
					doc = append(doc, '\n')
				}
				if *out != "" {
					return e.write(*out, doc)
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				_, err = e.stdout.Write(doc)
				return err
			}
		}},
	{path: "keys put-policy", args: []string{"NAME"}, summary: "replace a key's policy document",
		detail: "The server refuses a policy that would stop every admin from changing it\n" +
			"again (KMS's lockout safety check) unless --force (or KMS's spelling,\n" +
			"--bypass-policy-lockout-safety-check). Check a document offline first with\n" +
			"keygate policy validate FILE.",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.PutKeyPolicyRequest{}
			file := fs.String("file", "", "the policy document, AWS key-policy JSON (\"-\" = stdin; required)")
			fs.StringVar(file, "policy-file", "", "the same as --file")
			forceVar(fs, &req.BypassPolicyLockoutSafetyCheck, "accept a policy that locks the admins out")
			return func(ctx context.Context, e *env, args []string) error {
				req.KeyId = args[0]
				doc, err := e.readPolicy("file", *file)
				if err != nil {
					return err
				}
				req.Policy = doc
				resp, err := call(e.admin, func(c pb.KeyAdminServiceClient) (*pb.PutKeyPolicyResponse, error) { return c.PutKeyPolicy(ctx, req) })
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				if resp.PendingApproval != nil {
					printApproval(e.stdout, resp.PendingApproval)
					return nil
				}
				_, err = fmt.Fprintf(e.stdout, "policy of %s replaced\n", resp.KeyId)
				return err
			}
		}},
	{path: "policy simulate", args: []string{"[NAME]"}, summary: "explain whether a key's policy allows a request: exit 1 when denied",
		detail: "The key is NAME or --key NAME; --context k=v is the request's encryption context:\n" +
			"  keygate policy simulate --principal arn:aws:iam::111122223333:role/acs \\\n" +
			"      --action kms:Sign --key acs-signing --signing-algorithm ECDSA_SHA_256",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.SimulatePolicyRequest{}
			key := keyNameVar(fs, "the key")
			fs.StringVar(&req.PrincipalArn, "principal", "", "principal ARN, e.g. arn:aws:iam::111122223333:role/acs (required)")
			fs.StringVar(&req.Action, "action", "", "action, e.g. kms:Sign (required)")
			fs.StringVar(&req.SigningAlgorithm, "signing-algorithm", "", "kms:SigningAlgorithm of the request")
			fs.StringVar(&req.EncryptionAlgorithm, "encryption-algorithm", "", "kms:EncryptionAlgorithm of the request")
			fs.StringVar(&req.MacAlgorithm, "mac-algorithm", "", "kms:MacAlgorithm of the request")
			fs.StringVar(&req.MessageType, "message-type", "", "kms:MessageType of the request")
			fs.StringVar(&req.SourceIp, "source-ip", "", "aws:SourceIp of the request")
			ec := contextVar(fs)
			return func(ctx context.Context, e *env, args []string) (err error) {
				if req.KeyId, err = key.name(args); err != nil {
					return err
				}
				req.EncryptionContext = ec
				resp, err := call(e.policy, func(c pb.PolicyServiceClient) (*pb.SimulatePolicyResponse, error) { return c.SimulatePolicy(ctx, req) })
				if err != nil {
					return err
				}
				if e.json() {
					err = e.printJSON(resp, nil)
				} else {
					_, err = fmt.Fprintf(e.stdout, "%s (statement %s)\n\n%s\n", resp.Effect, dash(resp.Sid), strings.TrimSpace(resp.Explanation))
				}
				if err == nil && !resp.Allowed {
					return errInvalid
				}
				return err
			}
		}},
	{path: "policy diff", args: []string{"NAME"}, summary: "compare a key's policy with its KMS keys' own: exit 1 when they differ",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.policy()
				if err != nil {
					return err
				}
				resp, err := c.DiffKeyPolicy(ctx, &pb.DiffKeyPolicyRequest{KeyId: args[0]})
				if err != nil {
					return err
				}
				if e.json() {
					err = e.printJSON(resp, nil)
				} else {
					tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
					fmt.Fprintln(tw, "VERSION\tBACKEND KEY ID\tIN SYNC\tDIFFERENCES")
					for _, v := range resp.Versions {
						fmt.Fprintf(tw, "%d\t%s\t%t\t%s\n", v.Version, v.BackendKeyId, v.InSync, dash(strings.Join(v.Differences, "; ")))
					}
					err = tw.Flush()
				}
				for _, v := range resp.Versions {
					if err == nil && !v.InSync {
						return errInvalid
					}
				}
				return err
			}
		}},
	{path: "policy push", args: []string{"NAME"}, summary: "write a key's policy to the KMS keys behind its versions",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.PushKeyPolicyRequest{}
			forceVar(fs, &req.BypassPolicyLockoutSafetyCheck, "let KMS accept a policy that locks its admins out")
			return func(ctx context.Context, e *env, args []string) error {
				req.KeyId = args[0]
				resp, err := call(e.policy, func(c pb.PolicyServiceClient) (*pb.PushKeyPolicyResponse, error) { return c.PushKeyPolicy(ctx, req) })
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				_, err = fmt.Fprintf(e.stdout, "policy of %s pushed to versions %v\n", req.KeyId, resp.Versions)
				return err
			}
		}},
}

// readPolicy reads a policy document and checks it is JSON, so a wrong
// file is caught here rather than as a server-side parse error.
func (e *env) readPolicy(flagName, path string) (string, error) {
	b, err := e.read(flagName, path)
	if err != nil {
		return "", err
	}
	if !json.Valid(b) {
		return "", usageErr("--%s %s is not JSON", flagName, path)
	}
	for _, w := range policy.Warnings(b) {
		fmt.Fprintf(e.stderr, "keygate: warning: %s: %s\n", path, sanitizeText(w.String()))
	}
	return string(b), nil
}

// forceVar declares --force and KMS's long name for the lockout override.
func forceVar(fs *flag.FlagSet, p *bool, usage string) {
	fs.BoolVar(p, "force", false, usage)
	fs.BoolVar(p, "bypass-policy-lockout-safety-check", false, "the same as --force (KMS's name)")
}
