package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// threeDSCommands exercise ThreeDSService by hand: an ACS challenge session
// and the DS's sdkEncData. Their outputs are text (JWS, JWE, JSON), so
// they print as they are, not in base64.
var threeDSCommands = []*command{
	{path: "3ds create-session", aliases: []string{"3ds create-acs-session"}, args: []string{"[NAME]"},
		summary: "start an ACS challenge session: ECDH with the SDK, signed acsSignedContent",
		detail: "NAME (or --key NAME) is the ACS signing key; its active version needs a\n" +
			"certificate chain (keygate keys import-cert). The session key stays in\n" +
			"keygate: use the printed session id with decrypt-creq and encrypt-cres.\n" +
			"  keygate 3ds create-session --key acs-signing --acs-trans-id ID --acs-url URL \\\n" +
			"      --sdk-ephem-pub-key sdk-jwk.json --sdk-reference-number REF --enc A128GCM",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.CreateAcsSessionRequest{}
			key := keyNameVar(fs, "the ACS signing key")
			fs.StringVar(&req.AcsTransId, "acs-trans-id", "", "acsTransID (required)")
			fs.StringVar(&req.AcsUrl, "acs-url", "", "acsURL for the signed content (required)")
			jwk := fs.String("sdk-ephem-pub-key", "", "file holding the AReq's sdkEphemPubKey JWK, as received (\"-\" = stdin; required)")
			fs.StringVar(jwk, "sdk-ephem-pub-key-file", "", "the same as --sdk-ephem-pub-key")
			fs.StringVar(&req.SdkReferenceNumber, "sdk-reference-number", "", "the SDK Reference Number (PartyVInfo; required)")
			fs.StringVar(&req.Enc, "enc", "", "A128CBC-HS256 (default) or A128GCM")
			ttl := fs.Uint("ttl-seconds", 0, "session lifetime (default and most: the server's threeds.session_ttl)")
			fs.StringVar(&req.Ds, "ds", "", "the DS whose chain goes in x5c (import-acs-chain; default: the version's chain)")
			return func(ctx context.Context, e *env, args []string) (err error) {
				if req.KeyId, err = key.name(args); err != nil {
					return err
				}
				req.TtlSeconds = uint32(*ttl)
				if req.SdkEphemPubKey, err = e.read("sdk-ephem-pub-key", *jwk); err != nil {
					return err
				}
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.CreateAcsSessionResponse, error) {
					return c.CreateAcsSession(ctx, req)
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintf(tw, "Session:\t%s\nExpires:\t%s\nKey version:\t%d\nACS ephemeral key:\t%s\nacsSignedContent:\t%s\n",
					resp.SessionId, when(resp.ExpireTime), resp.KeyVersion, resp.AcsEphemPubKey, resp.AcsSignedContent)
				return tw.Flush()
			}
		}},
	{path: "3ds decrypt-creq", summary: "decrypt a CReq JWE from the SDK under a session",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.DecryptChallengeRequestRequest{}
			fs.StringVar(&req.SessionId, "session", "", "session id from create-session (required)")
			file := fs.String("jwe-file", "", "the CReq JWE compact serialization (\"-\" = stdin; required)")
			out := fs.String("out", "", "write the CReq JSON here instead of stdout")
			return func(ctx context.Context, e *env, _ []string) error {
				jwe, err := e.read("jwe-file", *file)
				if err != nil {
					return err
				}
				req.Jwe = trimText(jwe)
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.DecryptChallengeRequestResponse, error) {
					return c.DecryptChallengeRequest(ctx, req)
				})
				if err != nil {
					return err
				}
				return e.emitText(resp, "creq", resp.Creq, *out)
			}
		}},
	{path: "3ds encrypt-cres", summary: "encrypt a CRes JSON for the SDK under a session",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.EncryptChallengeResponseRequest{}
			fs.StringVar(&req.SessionId, "session", "", "session id from create-session (required)")
			file := fs.String("json-file", "", "the CRes JSON (\"-\" = stdin; required)")
			fs.StringVar(file, "cres-file", "", "the same as --json-file")
			out := fs.String("out", "", "write the JWE here instead of stdout")
			return func(ctx context.Context, e *env, _ []string) (err error) {
				if req.Cres, err = e.read("json-file", *file); err != nil {
					return err
				}
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.EncryptChallengeResponseResponse, error) {
					return c.EncryptChallengeResponse(ctx, req)
				})
				if err != nil {
					return err
				}
				return e.emitText(resp, "jwe", []byte(resp.Jwe), *out)
			}
		}},
	{path: "3ds decrypt-sdk-enc-data", args: []string{"[NAME]"}, summary: "decrypt an AReq's sdkEncData with the DS key NAME (or --key NAME)",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.DecryptSdkEncDataRequest{}
			key := keyNameVar(fs, "the DS key")
			file := fs.String("jwe-file", "", "the sdkEncData JWE (\"-\" = stdin; required)")
			fs.StringVar(&req.DsId, "ds-id", "", "the DS ID, PartyVInfo under an EC DS key, e.g. A000000802")
			keyIDs := fs.String("key-ids", "", "instead of NAME: the DS keys (comma-separated) the sdkEncData's kid may name")
			byKid := fs.Bool("by-kid", false, "instead of NAME: any DS key you may use that the sdkEncData's kid names")
			out := fs.String("out", "", "write the device data JSON here instead of stdout")
			return func(ctx context.Context, e *env, args []string) (err error) {
				switch {
				case *keyIDs != "":
					req.KeyIds = strings.Split(*keyIDs, ",")
				case *byKid:
				default:
					if req.KeyId, err = key.name(args); err != nil {
						return err
					}
				}
				jwe, err := e.read("jwe-file", *file)
				if err != nil {
					return err
				}
				req.Jwe = trimText(jwe)
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.DecryptSdkEncDataResponse, error) {
					return c.DecryptSdkEncData(ctx, req)
				})
				if err != nil {
					return err
				}
				return e.emitText(resp, "device_data", resp.DeviceData, *out)
			}
		}},
	{path: "3ds verify-sdk-server-signed-content", summary: "verify a Split-SDK server's sdkServerSignedContent as the DS (2.3.1)",
		detail: "Checks the JWS against the DS CAs in keygated's threeds.sdk_server.ca_file, the\n" +
			"leaf's validity and key usage, and sdkSignatureTimestamp against max_skew.\n" +
			"  keygate 3ds verify-sdk-server-signed-content --jws-file content.jws",
		setup: func(fs *flag.FlagSet) action {
			file := fs.String("jws-file", "", "the sdkServerSignedContent JWS (\"-\" = stdin; required)")
			return func(ctx context.Context, e *env, _ []string) error {
				jws, err := e.read("jws-file", *file)
				if err != nil {
					return err
				}
				req := &pb.VerifySdkServerSignedContentRequest{Jws: trimText(jws)}
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.VerifySdkServerSignedContentResponse, error) {
					return c.VerifySdkServerSignedContent(ctx, req)
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintf(tw, "Verified:\tyes\nsdkReferenceNumber:\t%s\nsdkSignatureTimestamp:\t%s\nsdkTransID:\t%s\nsplitSdkServerID:\t%s\nSigner:\t%s (serial %s)\n",
					resp.SdkReferenceNumber, when(resp.SdkSignatureTimestamp), resp.SdkTransId, resp.SplitSdkServerId, resp.SignerSubject, resp.SignerSerial)
				return tw.Flush()
			}
		}},
	{path: "3ds generate-otp", args: []string{"[NAME]"}, summary: "compute an HOTP (--counter N) or TOTP one-time password with the key NAME",
		detail: "NAME (or --key NAME) is a GENERATE_VERIFY_MAC key: HMAC_160 (SHA-1, RFC 4226),\n" +
			"HMAC_256 or HMAC_512. The HMAC is computed in the backend.\n" +
			"  keygate 3ds generate-otp --key otp-seed --mode HOTP --counter 7\n" +
			"  keygate 3ds generate-otp --key otp-seed --mode TOTP --digits 8",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.GenerateOtpRequest{}
			key := keyNameVar(fs, "the OTP key")
			fs.StringVar(&req.Mode, "mode", "TOTP", "HOTP or TOTP")
			fs.Uint64Var(&req.Counter, "counter", 0, "the HOTP counter")
			digits := fs.Uint("digits", 6, "6 to 8")
			step := fs.Uint("step-seconds", 30, "the TOTP time step")
			return func(ctx context.Context, e *env, args []string) (err error) {
				if req.KeyId, err = key.name(args); err != nil {
					return err
				}
				req.Digits, req.StepSeconds = uint32(*digits), uint32(*step)
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.GenerateOtpResponse, error) {
					return c.GenerateOtp(ctx, req)
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				_, err = fmt.Fprintf(e.stdout, "%s\n", resp.Otp)
				return err
			}
		}},
	{path: "3ds verify-otp", args: []string{"[NAME]"}, summary: "check a one-time password with the key NAME; a used counter or step is refused",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.VerifyOtpRequest{}
			key := keyNameVar(fs, "the OTP key")
			fs.StringVar(&req.Mode, "mode", "TOTP", "HOTP or TOTP")
			fs.StringVar(&req.Otp, "otp", "", "the code (required)")
			digits := fs.Uint("digits", 6, "6 to 8")
			window := fs.Uint("window", 1, "HOTP look-ahead, or TOTP steps either side of now (0 to 10)")
			step := fs.Uint("step-seconds", 30, "the TOTP time step")
			return func(ctx context.Context, e *env, args []string) (err error) {
				if req.KeyId, err = key.name(args); err != nil {
					return err
				}
				req.Digits, req.Window, req.StepSeconds = uint32(*digits), uint32(*window), uint32(*step)
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.VerifyOtpResponse, error) {
					return c.VerifyOtp(ctx, req)
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				_, err = fmt.Fprintf(e.stdout, "valid (counter %d, key version %d)\n", resp.Counter, resp.KeyVersion)
				return err
			}
		}},
	{path: "3ds set-ds-kids", args: []string{"NAME"}, summary: "set the kids a DS publishes for a version of its encryption key NAME",
		detail: "decrypt-sdk-enc-data then picks the key version by the sdkEncData's kid.\n" +
			"  keygate 3ds set-ds-kids ds-ecdh --version 2 --kids ds-2026",
		setup: func(fs *flag.FlagSet) action {
			version := fs.Uint("version", 0, "key version (default: the primary version)")
			kids := fs.String("kids", "", "comma-separated kids; empty removes the version's kids")
			return func(ctx context.Context, e *env, args []string) error {
				req := &pb.SetDsKeyIdsRequest{KeyId: args[0], Version: uint32(*version)}
				if *kids != "" {
					req.Kids = strings.Split(*kids, ",")
				}
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.SetDsKeyIdsResponse, error) {
					return c.SetDsKeyIds(ctx, req)
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				_, err = fmt.Fprintf(e.stdout, "%s version %d kids: %s\n", resp.KeyId, resp.Version, strings.Join(resp.Kids, ", "))
				return err
			}
		}},
	{path: "3ds import-acs-chain", args: []string{"NAME"}, summary: "store the chain a DS's CA issued for the ACS key NAME (PEM, leaf first)",
		detail: "create-session --ds DS then signs with that chain in x5c.\n" +
			"  keygate 3ds import-acs-chain acs-signing --ds visa --chain-file visa-chain.pem",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.ImportAcsChainRequest{}
			file := fs.String("chain-file", "", "PEM certificates, leaf first (\"-\" = stdin; required)")
			fs.StringVar(&req.Ds, "ds", "", "the DS (or its CA) the chain is for (required)")
			version := fs.Uint("version", 0, "key version (default: the primary version)")
			return func(ctx context.Context, e *env, args []string) error {
				b, err := e.read("chain-file", *file)
				if err != nil {
					return err
				}
				req.KeyId, req.Version, req.ChainPem = args[0], uint32(*version), string(b)
				resp, err := call(e.threeDS, func(c pb.ThreeDSServiceClient) (*pb.ImportAcsChainResponse, error) {
					return c.ImportAcsChain(ctx, req)
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				_, err = fmt.Fprintf(e.stdout, "%s version %d, DS %s: %d certificates imported; leaf %s\n",
					resp.KeyId, resp.Version, resp.Ds, resp.CertificateCount, resp.LeafSubject)
				return err
			}
		}},
}
