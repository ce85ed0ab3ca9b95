package server

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	"github.com/keygate/keygate/internal/kgerr"
)

// logCall writes the one log line of a failed or denied call: enough to
// find it in the audit log (correlation id) and in the traces (trace id).
// Only the caller-safe message is logged for a caller's mistake; the cause
// only for keygate's own failures (Internal, Unavailable), whose causes
// come from keygate and its backends. Neither carries a secret: no
// plaintext, no encryption-context value, no PIN ever reaches an error.
func (s *Server) logCall(ctx context.Context, c *Call) {
	if c.Err == nil {
		return
	}
	k := kgerr.KindOf(c.Err)
	level, msg, detail := slog.LevelInfo, "call failed", kgerr.Message(c.Err)
	switch {
	case k == kgerr.Internal || k == kgerr.Unavailable:
		level, detail = slog.LevelError, c.Err.Error()
	case k == kgerr.PermissionDenied:
		level, msg = slog.LevelWarn, "call denied"
	}
	traceID := ""
	if sc := callerTrace(ctx); sc.HasTraceID() {
		traceID = sc.TraceID().String()
	}
	s.log.LogAttrs(ctx, level, msg, slog.String("method", c.Method), slog.String("action", c.Action),
		slog.String("principal", c.Principal.ARN), slog.String("identity", c.Principal.Identity),
		slog.String("key", c.KeyName), slog.String("decision", c.Decision), slog.String("code", codeName(c.Err)),
		slog.String("correlation_id", c.CorrelationID), slog.String("trace_id", traceID), slog.String("err", detail))
}

// callerTrace is the call's trace: its span's when tracing is on, else the
// caller's W3C traceparent, so a failed call can be found in the caller's
// traces even when keygated exports none.
func callerTrace(ctx context.Context) trace.SpanContext {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc
	}
	md, _ := metadata.FromIncomingContext(ctx)
	v := md.Get("traceparent")
	if len(v) == 0 {
		return trace.SpanContext{}
	}
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": v[0]})
	return trace.SpanContextFromContext(ctx)
}
