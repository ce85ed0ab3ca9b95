package main

import (
	"context"
	"flag"
	"strings"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// csrCommands make the PKCS#10 request the DS's CA certifies.
var csrCommands = []*command{
	{path: "keys csr", args: []string{"NAME"}, summary: "make a PKCS#10 request for a key version, signed inside its backend",
		detail: "  keygate keys csr acs-signing --version 2 --subject \"CN=acs.example,O=Example\" --dns acs.example --out v2.csr\n" +
			"  openssl req -in v2.csr -noout -verify",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.CreateCertificateRequestRequest{}
			version := fs.Uint("version", 0, "the version to certify (required)")
			fs.StringVar(&req.Subject, "subject", "", "\"CN=...,O=...,OU=...,C=...\" (required)")
			dns := fs.String("dns", "", "DNS names for the subjectAltName, comma-separated")
			out := fs.String("out", "", "write the PEM request here instead of stdout")
			return func(ctx context.Context, e *env, args []string) error {
				if *version == 0 || req.Subject == "" {
					return usageErr("--version and --subject are required")
				}
				req.KeyId, req.Version = args[0], uint32(*version)
				if *dns != "" {
					req.DnsNames = strings.Split(*dns, ",")
				}
				resp, err := call(e.admin, func(c pb.KeyAdminServiceClient) (*pb.CreateCertificateRequestResponse, error) {
					return c.CreateCertificateRequest(ctx, req)
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				if *out != "" {
					return e.write(*out, []byte(resp.CsrPem))
				}
				_, err = e.stdout.Write([]byte(resp.CsrPem))
				return err
			}
		}},
}
