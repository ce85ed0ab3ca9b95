package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/keygate/keygate/client"
	"github.com/keygate/keygate/client/pkcs11key"
)

// tlsOption is how the CLI presents its client key: a PEM file, or a key
// in a PKCS#11 token when --client-key is a pkcs11: URI (PCI DSS 8.4.2:
// the admin's key on a hardware token, unlocked by a PIN). The token's key
// is opened once per command and closed with the connection.
func (e *env) tlsOption(ctx context.Context) (client.Option, error) {
	if !pkcs11key.IsURI(e.g.key) {
		return client.WithTLSFiles(e.g.ca, e.g.cert, e.g.key), nil
	}
	k, err := pkcs11key.Open(ctx, e.g.key, pkcs11key.WithPINPrompt(terminalPIN))
	if err != nil {
		return nil, tokenErr(err)
	}
	e.tokenKey = k
	return client.WithTLSSigner(e.g.ca, e.g.cert, k), nil
}

// probeTLS is the TLS configuration the refused-certificate probe uses:
// the same key as the connection.
func (e *env) probeTLS() (*tls.Config, error) {
	if e.tokenKey != nil {
		return client.SignerTLS(e.g.ca, e.g.cert, e.tokenKey)
	}
	return client.FileTLS(e.g.ca, e.g.cert, e.g.key)
}

// terminalPIN asks for a token's PIN on the controlling terminal, without
// echo; stdin stays free for the verb's input. Without a terminal (a
// script, a pipe) the URI must give pin-source.
func terminalPIN(ctx context.Context, token string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no terminal to ask for it: add pin-source=file:/path to the URI")
	}
	defer tty.Close()
	fmt.Fprintf(tty, "PIN for token %q: ", token)
	type answer struct {
		pin []byte
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		pin, err := term.ReadPassword(int(tty.Fd()))
		ch <- answer{pin, err}
	}()
	select {
	case a := <-ch:
		fmt.Fprintln(tty)
		if a.err != nil {
			return "", fmt.Errorf("reading it from the terminal: %w", a.err)
		}
		return string(a.pin), nil
	case <-ctx.Done():
		fmt.Fprintln(tty)
		return "", ctx.Err()
	}
}

// pinError is a PIN the token refused: exit 6, as a refused certificate.
type pinError struct{ err error }

func (p *pinError) Error() string { return p.err.Error() }
func (p *pinError) Unwrap() error { return p.err }
