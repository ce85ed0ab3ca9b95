package main

import (
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
)

// env is what a running verb sees: the global flags, the standard streams
// and a connection made on first use.
type env struct {
	g              *globals
	stdin          io.Reader
	stdout, stderr io.Writer
	stdinUsed      bool
	conn           *grpc.ClientConn
}

// dial connects over mutual TLS. A client certificate is required: the
// server refuses a handshake without one, so say so before trying.
func (e *env) dial() (*grpc.ClientConn, error) {
	if e.conn != nil {
		return e.conn, nil
	}
	for _, f := range []struct{ flag, env, val string }{
		{"--addr", "KEYGATE_ADDR", e.g.addr}, {"--ca", "KEYGATE_CA", e.g.ca},
		{"--cert", "KEYGATE_CERT", e.g.cert}, {"--key", "--client-key or KEYGATE_KEY", e.g.key},
	} {
		if f.val == "" {
			return nil, usageErr("%s (or %s) is required", f.flag, f.env)
		}
	}
	cfg, err := server.ClientTLS(e.g.ca, e.g.cert, e.g.key)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	conn, err := grpc.NewClient(e.g.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, usageErr("--addr %q: %v", e.g.addr, err)
	}
	e.conn = conn
	return conn, nil
}

func (e *env) crypto() (pb.CryptoServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return pb.NewCryptoServiceClient(conn), nil
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
	return pb.NewKeyAdminServiceClient(conn), nil
}

func (e *env) policy() (pb.PolicyServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return pb.NewPolicyServiceClient(conn), nil
}

func (e *env) audit() (pb.AuditServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return pb.NewAuditServiceClient(conn), nil
}

func (e *env) threeDS() (pb.ThreeDSServiceClient, error) {
	conn, err := e.dial()
	if err != nil {
		return nil, err
	}
	return pb.NewThreeDSServiceClient(conn), nil
}

func (e *env) json() bool { return e.g.output == "json" }

func (e *env) close() {
	if e.conn != nil {
		e.conn.Close()
	}
}
