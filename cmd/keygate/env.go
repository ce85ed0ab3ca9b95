package main

import (
	"context"
	"io"

	"github.com/keygate/keygate/client"
	"github.com/keygate/keygate/client/pkcs11key"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// env is what a running verb sees: the global flags, the standard streams
// and a connection made on first use.
type env struct {
	g              *globals
	stdin          io.Reader
	stdout, stderr io.Writer
	stdinUsed      bool
	conn           *client.Client
	tokenKey       *pkcs11key.Key // the client key, when it is in a PKCS#11 token
}

// dial connects over mutual TLS with the client package, the one client
// code path keygate's Go callers use too. A client certificate is
// required: the server refuses a handshake without one, so say so before
// trying.
func (e *env) dial() (*client.Client, error) {
	if e.conn != nil {
		return e.conn, nil
	}
	for _, f := range []struct{ flag, env, val string }{
		{"--addr", "KEYGATE_ADDR", e.g.addr}, {"--ca", "KEYGATE_CA", e.g.ca},
		{"--cert", "KEYGATE_CERT", e.g.cert}, {"--client-key", "KEYGATE_KEY", e.g.key},
	} {
		if f.val == "" {
			return nil, usageErr("%s (or %s) is required", f.flag, f.env)
		}
	}
	creds, err := e.tlsOption(context.Background())
	if err != nil {
		return nil, err
	}
	conn, err := client.Dial(context.Background(), e.g.addr, creds)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	e.conn = conn
	return conn, nil
}

func (e *env) crypto() (pb.CryptoServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return conn.Crypto, nil
}

// call dials a service with client and makes one call with it.
func call[C, R any](client func() (C, error), rpc func(C) (R, error)) (R, error) {
	c, err := client()
	if err != nil {
		var none R
		return none, err
	}
	return rpc(c)
}

func (e *env) admin() (pb.KeyAdminServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return conn.Admin, nil
}

func (e *env) policy() (pb.PolicyServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return conn.Policy, nil
}

func (e *env) audit() (pb.AuditServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return conn.Audit, nil
}

func (e *env) threeDS() (pb.ThreeDSServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return conn.ThreeDS, nil
}

func (e *env) json() bool { return e.g.output == "json" }

func (e *env) close() {
	if e.conn != nil {
		e.conn.Close()
	}
	if e.tokenKey != nil {
		e.tokenKey.Close()
	}
}
