package server

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
)

// Call is what keygate knows about one RPC: the interceptor starts it, the
// handler fills in the key and the request's facts, the authorizer its
// decision, the backend its request id; the auditor records it before the
// caller gets an answer.
type Call struct {
	Start         time.Time
	Method        string // full gRPC method name
	Action        string // kms:Sign, keygate:CreateAcsSession, ...
	Principal     Principal
	Peer          string
	CorrelationID string // the caller's x-request-id

	Key          *keyring.Entry // nil until resolved
	KeyName      string
	Version      uint32
	BackendKeyID string
	// Request facts, also the policy's condition keys.
	Algorithm   string
	MessageType string
	EncContext  map[string]string
	// Decision is "Allow", "Deny" (explicit) or "ImplicitDeny"; Sid names
	// the statement that decided.
	Decision string
	Sid      string
	Backend  backends.CallInfo
	// Detail says what an administrative call changed (caller-safe).
	Detail string

	Err     error
	Latency time.Duration
	// journaled is set once the call's change to the key registry has
	// committed with its audit event (journal.go); then a success needs no
	// second record.
	journaled bool
	// held is set when the call's operation waits for a second admin: its
	// event is a call, not the change it asks for (approvals.go).
	held bool
}

// Auditor makes a call's record durable. The call is answered only after
// Record returns; if it fails, crypto calls fail closed.
type Auditor interface {
	Record(ctx context.Context, c *Call) error
}

// Authorizer decides whether c.Principal may do c.Action on c.Key. It sets
// c.Decision and c.Sid, and returns a kgerr.PermissionDenied error to deny.
type Authorizer interface {
	Authorize(ctx context.Context, c *Call) error
}

type callKey struct{}

// callOf is the call the interceptor started. Every keygate method passes
// the interceptor; were one not to, the empty call it gets here has no
// principal, so every authorization denies it.
func callOf(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	if c == nil {
		c = &Call{}
	}
	return c
}

// unary is the interceptor every keygate RPC passes: identity, the call
// record, the handler, the audit record, and the one mapping of errors to
// gRPC codes, in that order.
func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	c, ctx, pass, err := s.begin(ctx, info.FullMethod)
	if pass {
		return h(ctx, req)
	}
	var resp any
	if err == nil {
		resp, c.Err = h(ctx, req)
	}
	if err := s.finish(ctx, c); err != nil {
		return nil, err
	}
	return resp, nil
}

// stream does the same for streaming RPCs (audit tail and export). The
// handler authorizes before it sends anything, and the call is recorded
// when the stream ends.
func (s *Server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	c, ctx, pass, err := s.begin(ss.Context(), info.FullMethod)
	if pass {
		return h(srv, ss)
	}
	if err == nil {
		c.Err = h(srv, &callStream{ServerStream: ss, ctx: ctx})
	}
	return s.finish(ctx, c)
}

// callStream carries the call's context into a stream handler.
type callStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (cs *callStream) Context() context.Context { return cs.ctx }

// begin starts a call: pass is true for the few non-keygate services
// (health, reflection) that need no principal; err is set (and recorded on
// c) when the caller cannot be identified or the method has no action.
func (s *Server) begin(ctx context.Context, method string) (c *Call, _ context.Context, pass bool, err error) {
	action, known := s.actions[method]
	if !known {
		if strings.HasPrefix(method, "/grpc.health.") || strings.HasPrefix(method, "/grpc.reflection.") {
			return nil, ctx, true, nil // still behind mTLS, but no key, no principal needed
		}
		// A keygate method without an action would escape policy and audit.
		s.log.Error("method has no action; refusing it", "method", method)
		action = "keygate:Unknown"
	}
	c = &Call{Start: time.Now(), Method: method, Action: action}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("x-request-id"); len(v) > 0 && len(v[0]) <= 128 {
			c.CorrelationID = v[0]
		}
	}
	c.Principal, c.Peer, c.Err = s.identify(ctx)
	if c.Err == nil && !known {
		c.Err = status.Error(codes.Unimplemented, "method not available")
	}
	if c.Err != nil {
		return c, ctx, false, c.Err
	}
	ctx = context.WithValue(ctx, callKey{}, c)
	return c, backends.WithCallInfo(ctx, &c.Backend), false, nil
}

// finish makes the call's record durable and returns the caller's error:
// the call's own, or Unavailable if the record could not be written (fail
// closed: no answer without an audit record).
func (s *Server) finish(ctx context.Context, c *Call) error {
	c.Latency = time.Since(c.Start)
	if c.journaled && c.Err == nil {
		return nil
	}
	if err := s.auditor.Record(context.WithoutCancel(ctx), c); err != nil {
		s.log.Error("audit record failed; refusing the call", "method", c.Method, "err", err)
		return toStatus(kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable"))
	}
	if c.Err != nil {
		if k := kgerr.KindOf(c.Err); k == kgerr.Internal || k == kgerr.Unavailable {
			s.log.Error("call failed", "method", c.Method, "principal", c.Principal.ARN, "key", c.KeyName, "err", c.Err)
		}
		return toStatus(c.Err)
	}
	return nil
}

// use resolves a key for the call, checks the request against it,
// authorizes it, and returns the version and backend handle to use. The
// key must have usage u (any usage if u is empty); version n (0 = the
// primary) must be active if the operation makes a new output. check, if
// given, validates the request against the key and records the request's
// facts on the call before the policy sees them.
func (s *Server) use(ctx context.Context, c *Call, name string, n uint32, u keys.Usage, newOutput bool,
	check func(*keys.Key) error) (*keys.Version, backends.Key, error) {
	c.KeyName = name
	if name == "" {
		return nil, nil, kgerr.Errorf(kgerr.InvalidArgument, "key_id is required")
	}
	e, err := s.keys.Resolve(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	c.Key = e
	if u != "" && e.Key.Usage != u {
		return nil, nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q has usage %s; this operation needs %s", name, e.Key.Usage, u)
	}
	if check != nil {
		if err := check(e.Key); err != nil {
			return nil, nil, err
		}
	}
	if err := s.authz.Authorize(ctx, c); err != nil {
		return nil, nil, err
	}
	v, h, err := e.Handle(n, newOutput)
	if err != nil {
		return nil, nil, err
	}
	c.Version, c.BackendKeyID = v.Number, v.BackendKeyID
	return v, h, nil
}
