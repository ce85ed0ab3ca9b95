package server

import (
	"context"
	"runtime/debug"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// unary is the interceptor every RPC passes. For keygate methods it runs
// the pipeline the method's descriptor declares: identity, request
// validation, key resolution, policy, handler, audit; and it makes the
// caller's status through the one mapping (errors.go).
func (s *Server) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if isInfra(info.FullMethod) {
		if err := s.infra(ctx, info.FullMethod); err != nil {
			return nil, err
		}
		return h(ctx, req)
	}
	c, ctx := s.begin(ctx, info.FullMethod)
	if c.Err == nil {
		leave, err := s.shed(ctx, c)
		if err != nil {
			return nil, toStatus(err) // nothing done; counted, not audited (admission.go)
		}
		defer leave()
	}
	var resp any
	if c.Err == nil {
		c.Err = s.admitTraced(ctx, c, req)
	}
	if c.Err == nil {
		resp, c.Err = s.invokeTraced(ctx, c, func(ctx context.Context) (any, error) {
			return s.recoverUnary(ctx, req, info, h)
		})
		if c.handle != nil {
			s.ready.backendResult(c.Key.Key.Backend, c.Err)
		}
	}
	if err := s.finish(ctx, c); err != nil {
		return nil, err
	}
	return resp, nil
}

// stream does the same for streaming RPCs (audit tail and export). Their
// request arrives after the stream opens, so it is validated as it is
// received; a streaming method names no key (admit refuses one that does).
func (s *Server) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if isInfra(info.FullMethod) {
		if err := s.infra(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return h(srv, ss)
	}
	c, ctx := s.begin(ss.Context(), info.FullMethod)
	if c.Err == nil {
		if err := s.auditGate(); err != nil {
			return toStatus(err)
		}
		c.Err = s.admitTraced(ctx, c, nil)
	}
	if c.Err == nil {
		_, c.Err = s.invokeTraced(ctx, c, func(ctx context.Context) (any, error) {
			return nil, s.recoverStream(srv, &callStream{ServerStream: ss, ctx: ctx}, info, h)
		})
	}
	return s.finish(ctx, c)
}

// callStream carries the call's context into a stream handler and
// validates each request it receives.
type callStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (cs *callStream) Context() context.Context { return cs.ctx }

func (cs *callStream) RecvMsg(m any) error {
	if err := cs.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if pm, ok := m.(proto.Message); ok {
		return validateRequest(pm)
	}
	return nil
}

// begin starts a call: its method, correlation id and principal. c.Err is
// set when the caller cannot be identified or the method has no
// descriptor (a bug: such a method would escape policy and audit).
func (s *Server) begin(ctx context.Context, method string) (*Call, context.Context) {
	c := &Call{Start: s.now(), Method: method, Action: "keygate:Unknown"}
	d, known := methods[method]
	if known {
		c.Action = d.action
	}
	// ValueFromIncomingContext, not FromIncomingContext: that copies every
	// header of the call into a new map, a twentieth of a cheap call's
	// allocations.
	if v := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(v) > 0 && validCorrelation(v[0]) {
		c.CorrelationID = v[0]
	}
	c.Principal, c.Peer, c.Err = s.identify(ctx)
	if c.Err == nil && !known {
		s.log.Error("BUG: method has no descriptor in server.methods; refusing it", "method", method)
		c.Err = kgerr.Errorf(kgerr.Internal, "method %s is not available", method)
	}
	ctx = context.WithValue(ctx, callKey{}, c)
	return c, backends.WithCallInfo(ctx, &c.Backend)
}

// admit runs the stages before the handler, in the one order: request
// validation, key resolution, the request's facts, policy, and only then
// what the key is (usage, state, version). An unauthorized caller learns
// nothing about a key beyond whether the name exists.
func (s *Server) admit(ctx context.Context, c *Call, req any) error {
	d := methods[c.Method]
	if req != nil {
		if err := validateRequest(req.(proto.Message)); err != nil {
			return err
		}
		if d.actionOf != nil {
			if a := d.actionOf(req); a != "" {
				c.Action = a
			}
		}
	}
	if d.key == nil {
		return s.authz.authorize(c)
	}
	if req == nil {
		return kgerr.Errorf(kgerr.Internal, "streaming method %s cannot name a key", c.Method)
	}
	name, n, err := d.key(ctx, s, req)
	if err != nil {
		return err
	}
	c.KeyName = name
	if d.creates || c.creating || name == "" { // "": a call that may name a key and did not (byOptionalKeyID)
		return s.authz.authorize(c)
	}
	e, err := s.keys.Resolve(ctx, name)
	if err != nil {
		return err
	}
	c.Key = e
	if d.facts != nil {
		d.facts(c, req, e.Key)
	}
	if err := s.authz.authorize(c); err != nil {
		return err
	}
	if d.also != nil {
		if a := d.also(e.Key); a != "" {
			if err := s.authz.authorizeAlso(c, a); err != nil {
				return err
			}
		}
	}
	if d.usage != "" && e.Key.Usage != d.usage {
		return kgerr.Errorf(kgerr.FailedPrecondition, "key %q has usage %s; this operation needs %s", name, e.Key.Usage, d.usage)
	}
	if !d.crypto {
		return nil
	}
	v, h, err := e.Handle(n, d.newOutput)
	if err != nil {
		return err
	}
	c.version, c.handle = v, h
	c.Version, c.BackendKeyID = v.Number, v.BackendKeyID
	return nil
}

// secondKey runs the pipeline's stages for a second key a call uses
// (ReEncrypt's destination): resolution, facts, policy for action, then
// usage and version. The call takes the second key's decision when it
// denies, so the audit event says why.
func (s *Server) secondKey(ctx context.Context, c *Call, name, action string, usage keys.Usage, newOutput bool,
	facts func(*Call)) (*Call, error) {
	dc := &Call{Start: c.Start, Method: c.Method, Action: action, Principal: c.Principal, Peer: c.Peer, KeyName: name}
	e, err := s.keys.Resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	dc.Key = e
	if facts != nil {
		facts(dc)
	}
	if err := s.authz.authorize(dc); err != nil {
		c.Decision, c.Sid = dc.Decision, dc.Sid
		return nil, err
	}
	if e.Key.Usage != usage {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q has usage %s; this operation needs %s", name, e.Key.Usage, usage)
	}
	if dc.version, dc.handle, err = e.Handle(0, newOutput); err != nil {
		return nil, err
	}
	return dc, nil
}

// invoke runs the handler, refusing a call that carries no Allow: that is
// a bug in the pipeline, never an answer.
func (s *Server) invoke(ctx context.Context, c *Call, handler func(context.Context) (any, error)) (any, error) {
	if !c.allowed() {
		s.log.Error("BUG: call reached its handler without an Allow; refusing it", "method", c.Method,
			"principal", c.Principal.ARN, "decision", c.Decision)
		return nil, kgerr.Errorf(kgerr.Internal, "internal error")
	}
	start := time.Now()
	resp, err := handler(ctx) // a panic is recovered inside: it returns
	c.handlerTime = time.Since(start)
	return resp, err
}

// finish makes the call's record durable and returns the caller's status:
// the call's own, or Unavailable if the record could not be written (fail
// closed: no answer without an audit record).
func (s *Server) finish(ctx context.Context, c *Call) error {
	c.Latency = time.Since(c.Start)
	if c.Err == nil && !c.allowed() {
		s.log.Error("BUG: call answered without an Allow; refusing the answer", "method", c.Method, "principal", c.Principal.ARN)
		c.Err = kgerr.Errorf(kgerr.Internal, "internal error")
	}
	if c.write != nil && c.Err == nil {
		// The write and the event commit together; a write refused (a
		// counter used elsewhere first) is recorded below as a failure.
		recorded, err := s.commitWrite(ctx, c)
		c.Err, c.journaled = err, recorded
	}
	if s.metrics != nil {
		s.metrics.call(c, c.handlerTime)
	}
	if c.journaled && c.Err == nil {
		return nil // the change committed with its own audit event
	}
	if err := s.record(context.WithoutCancel(ctx), c); err != nil {
		s.ready.auditFailed(err)
		s.log.Error("audit record failed; refusing the call", "method", c.Method, "err", err)
		return toStatus(kgerr.Wrap(kgerr.Unavailable, err, "audit log unavailable"))
	}
	if c.Err != nil {
		s.logCall(ctx, c)
		return toStatus(c.Err)
	}
	return nil
}

// recovery turns a handler's panic into an Internal error, which the
// pipeline then audits like any failure; the stack goes to the log only.
func (s *Server) recoveryOption() recovery.Option {
	return recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		s.log.Error("BUG: handler panicked", "method", callOf(ctx).Method, "panic", p, "stack", string(debug.Stack()))
		return kgerr.Errorf(kgerr.Internal, "internal error")
	})
}

// isInfra says whether a method is one of gRPC's own services (health,
// reflection): no key, no policy, but still only for mapped principals.
func isInfra(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.") || strings.HasPrefix(method, "/grpc.reflection.")
}

// infra admits a call to health or reflection: the caller must be a mapped
// principal. A refusal is audited; the answers are not (a load balancer
// polls health every few seconds).
func (s *Server) infra(ctx context.Context, method string) error {
	pr, addr, err := s.identify(ctx)
	if err == nil {
		return nil
	}
	action := "keygate:Health"
	if strings.HasPrefix(method, "/grpc.reflection.") {
		action = "keygate:Reflection"
	}
	c := &Call{Start: s.now(), Method: method, Action: action, Principal: pr, Peer: addr, Err: err}
	return s.finish(ctx, c)
}

// validCorrelation bounds the caller's x-request-id to what an audit field
// and a log line can carry safely.
func validCorrelation(v string) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return false
		}
	}
	return true
}
