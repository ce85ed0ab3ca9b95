package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// In TLS 1.3 the client finishes its handshake before the server checks
// the client certificate, so a refused certificate reaches gRPC as a race:
// the server's alert, or just "broken pipe". When a call fails Unavailable,
// diagnose lets one fresh connection tell them apart: a server that accepts
// the certificate speaks first (its HTTP/2 SETTINGS), one that refuses it
// sends the alert.
func (e *env) diagnose(ctx context.Context, err error) error {
	if e.conn == nil || status.Code(err) != codes.Unavailable || refusedCert(status.Convert(err).Message()) {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if alert := e.probe(ctx); alert != nil {
		return &refusedError{status: status.Convert(err), alert: alert}
	}
	return err
}

// probe returns the TLS alert the server answers with, or nil when the
// server accepts the connection (or cannot be reached at all).
func (e *env) probe(ctx context.Context) error {
	cfg, err := e.probeTLS()
	if err != nil {
		return nil
	}
	cfg.NextProtos = []string{"h2"}
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", e.g.addr)
	if err != nil {
		return alertOf(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetReadDeadline(dl)
	}
	_, err = conn.Read(make([]byte, 1))
	return alertOf(err)
}

// alertOf keeps err if it is an alert the server sent (crypto/tls reports
// those as a net.OpError with Op "remote error").
func alertOf(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "remote error" {
		return err
	}
	return nil
}

// refusedError is a call the server refused at the TLS layer.
type refusedError struct {
	status *status.Status
	alert  error
}

func (r *refusedError) Error() string {
	return fmt.Sprintf("%s: %s (the server refused the client certificate: %v)", r.status.Code(), r.status.Message(), r.alert)
}
