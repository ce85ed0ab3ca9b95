package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/keygate/keygate/client/pkcs11key"
	"github.com/keygate/keygate/keys/keyring"
)

// tokenCommands put an administrator's mTLS key on a PKCS#11 token or
// smart card and make the request the admin CA certifies. They run
// locally: nothing is sent to keygated.
var tokenCommands = []*command{
	{path: "token keygen", args: []string{"URI"}, summary: "generate a client key pair inside a PKCS#11 token and print its certificate request",
		detail: "  keygate token keygen 'pkcs11:token=admin;object=alice?module-path=/usr/lib/softhsm/libsofthsm2.so' \\\n" +
			"      --key-spec ECC_NIST_P256 --subject \"CN=alice,O=Example\" --uri-san spiffe://example.com/admin/alice --out alice.csr\n" +
			"The private key is generated in the token (sensitive, never extractable); the PIN comes from the\n" +
			"URI's pin-source or pin-value, or is asked for on the terminal. Use the issued certificate with\n" +
			"--cert alice.pem --client-key URI.",
		setup: func(fs *flag.FlagSet) action {
			spec := fs.String("key-spec", "ECC_NIST_P256", "one of "+strings.Join(pkcs11key.Specs, ", "))
			csr := csrFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				if err := csr.check(); err != nil {
					return err
				}
				k, err := pkcs11key.Generate(ctx, args[0], *spec, pkcs11key.WithPINPrompt(terminalPIN))
				if err != nil {
					return tokenErr(err)
				}
				defer k.Close()
				fmt.Fprintf(e.stderr, "keygate: generated a %s key in the token: %s\n", *spec, k.URI())
				return csr.write(e, k)
			}
		}},
	{path: "token csr", args: []string{"URI"}, summary: "print a certificate request signed by a client key already in a PKCS#11 token",
		detail: "  keygate token csr 'pkcs11:token=admin;object=alice?module-path=/usr/lib/softhsm/libsofthsm2.so' \\\n" +
			"      --subject \"CN=alice,O=Example\" --uri-san spiffe://example.com/admin/alice --out alice.csr",
		setup: func(fs *flag.FlagSet) action {
			csr := csrFlags(fs)
			return func(ctx context.Context, e *env, args []string) error {
				if err := csr.check(); err != nil {
					return err
				}
				k, err := pkcs11key.Open(ctx, args[0], pkcs11key.WithPINPrompt(terminalPIN))
				if err != nil {
					return tokenErr(err)
				}
				defer k.Close()
				return csr.write(e, k)
			}
		}},
}

type csrOpts struct{ subject, uriSAN, out *string }

func csrFlags(fs *flag.FlagSet) csrOpts {
	return csrOpts{
		subject: fs.String("subject", "", "\"CN=...,O=...,OU=...\" of the request (required)"),
		uriSAN:  fs.String("uri-san", "", "a URI subject alternative name, e.g. a SPIFFE ID keygated maps to the admin's principal"),
		out:     fs.String("out", "-", "write the PEM request here (\"-\" = stdout)"),
	}
}

func (c csrOpts) check() error {
	if *c.subject == "" {
		return usageErr("--subject is required")
	}
	if _, err := keyring.ParseSubject(*c.subject); err != nil {
		return usageErr("--subject: %v", err)
	}
	if *c.uriSAN != "" {
		if u, err := url.Parse(*c.uriSAN); err != nil || u.Scheme == "" {
			return usageErr("--uri-san %q is not an absolute URI", *c.uriSAN)
		}
	}
	return nil
}

// write makes the PKCS#10 request, signed in the token.
func (c csrOpts) write(e *env, k *pkcs11key.Key) error {
	name, _ := keyring.ParseSubject(*c.subject)
	tmpl := &x509.CertificateRequest{Subject: name}
	if *c.uriSAN != "" {
		u, _ := url.Parse(*c.uriSAN)
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, k)
	if err != nil {
		return fmt.Errorf("certificate request: %w", err)
	}
	return e.write(*c.out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// tokenErr is a token failure as the CLI reports it: a wrong PIN exits as
// a refused certificate would, anything else as a local usage problem.
func tokenErr(err error) error {
	if errors.Is(err, pkcs11key.ErrPINIncorrect) {
		return &pinError{err}
	}
	return usageErr("%v", err)
}
