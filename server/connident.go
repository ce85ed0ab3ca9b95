package server

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/stats"
)

// A connection's caller is resolved once, on its first call, not on every
// call: the certificate's identity, its principal and the peer address are
// kept with the connection. A reload (a new principal mapping, client CA
// or CRL: reload.go) makes the next call on every open connection resolve
// again under the new configuration, checking the certificate against the
// CRL then too, so a certificate revoked after its handshake stops being
// served once the reload has the new list.

// connIdentity is a connection's resolved caller, for the live
// configuration it was resolved under.
type connIdentity struct {
	cur atomic.Pointer[resolved]
}

type resolved struct {
	live *live
	pr   Principal
	addr string
	err  error
}

type connIdentityKey struct{}

// connTagger gives each connection its connIdentity: gRPC derives every
// call's context on a connection from the context TagConn returns.
type connTagger struct{}

func (connTagger) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return context.WithValue(ctx, connIdentityKey{}, &connIdentity{})
}
func (connTagger) HandleConn(context.Context, stats.ConnStats) {}
func (connTagger) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}
func (connTagger) HandleRPC(context.Context, stats.RPCStats) {}

// identify is the caller of the call in ctx: its connection's, resolved
// (resolve) on the connection's first call and again after a reload.
func (s *Server) identify(ctx context.Context) (Principal, string, error) {
	ci, _ := ctx.Value(connIdentityKey{}).(*connIdentity)
	if ci == nil {
		return s.resolve(ctx, s.reload.cur.Load())
	}
	l := s.reload.cur.Load()
	if r := ci.cur.Load(); r != nil && r.live == l {
		return r.pr, r.addr, r.err
	}
	pr, addr, err := s.resolve(ctx, l)
	ci.cur.Store(&resolved{live: l, pr: pr, addr: addr, err: err})
	return pr, addr, err
}
