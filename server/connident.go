package server

import (
	"context"
	"crypto/x509"
	"net"
	"sync"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// A connection's caller is resolved once, on its first call, not on every
// call: the certificate's identity and principal are kept, keyed by the
// leaf certificate its handshake verified (one parsed certificate per
// connection). A reload (a new principal mapping, client CA or CRL:
// reload.go) makes the next call on every open connection resolve again
// under the new configuration, checking the certificate against the CRL
// then too, so a certificate revoked after its handshake stops being
// served once the reload has the new list.
//
// A gRPC stats handler would give each connection a slot of its own, but
// installing one makes gRPC report every call's events to it: more
// allocations per call than resolving saves.

// maxIdentities bounds the cache: when full, it starts again empty (the
// callers of open connections resolve once more).
const maxIdentities = 4096

// identities is the cache of resolved callers.
type identities struct {
	mu sync.RWMutex
	m  map[*x509.Certificate]*resolved
}

// resolved is a caller as resolved under the live configuration live,
// and its connection's address (from, as a string: formatting it was most
// of what a cached call still cost).
type resolved struct {
	live *live
	pr   Principal
	err  error
	from *net.TCPAddr
	addr string
}

func (c *identities) get(leaf *x509.Certificate) *resolved {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[leaf]
}

func (c *identities) put(leaf *x509.Certificate, r *resolved) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxIdentities {
		c.m = make(map[*x509.Certificate]*resolved)
	}
	c.m[leaf] = r
}

// identify is the caller of the call in ctx and its address: its
// connection's, resolved (resolve) on the connection's first call and
// again after a reload.
func (s *Server) identify(ctx context.Context) (Principal, string, error) {
	l := s.reload.cur.Load()
	p, ok := peer.FromContext(ctx)
	if !ok {
		return s.resolve(ctx, l)
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.VerifiedChains[0]) == 0 {
		return s.resolve(ctx, l)
	}
	leaf := ti.State.VerifiedChains[0][0]
	if r := s.ids.get(leaf); r != nil && r.live == l {
		if a, ok := p.Addr.(*net.TCPAddr); ok && a == r.from {
			return r.pr, r.addr, r.err // the same connection's address
		}
		return r.pr, p.Addr.String(), r.err
	}
	pr, addr, err := s.resolve(ctx, l)
	from, _ := p.Addr.(*net.TCPAddr)
	s.ids.put(leaf, &resolved{live: l, pr: pr, err: err, from: from, addr: addr})
	return pr, addr, err
}
