package server

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/keygate/keygate/internal/kgerr"
)

// TracingConfig turns OpenTelemetry tracing on.
type TracingConfig struct {
	// OTLPEndpoint is the OTLP/gRPC collector (host:port) spans are
	// exported to; empty (the default) exports nothing.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// Insecure sends spans without TLS (a collector on the same host).
	Insecure bool `yaml:"insecure"`
}

// openTracing is the server's tracer: the one Options gives (tests), an
// OTLP exporter when tracing.otlp_endpoint is set, else none (no span is
// made, so tracing costs nothing when off). shutdown flushes the exporter.
func openTracing(ctx context.Context, cfg TracingConfig, replica string, tp trace.TracerProvider) (trace.TracerProvider, func(context.Context) error, error) {
	if tp != nil || cfg.OTLPEndpoint == "" {
		return tp, func(context.Context) error { return nil }, nil
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(cfg.OTLPEndpoint)}
	if cfg.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("tracing.otlp_endpoint %s: %w", cfg.OTLPEndpoint, err)
	}
	res := sdkresource.NewSchemaless(semconv.ServiceName("keygated"), semconv.ServiceInstanceID(replica))
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return sdk, sdk.Shutdown, nil
}

// traceOption is the gRPC server's OpenTelemetry handler: a span per call,
// continuing the caller's trace (W3C traceparent). Health and reflection
// are not traced: a kubelet polls them every few seconds.
func traceOption(tp trace.TracerProvider) grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(propagation.TraceContext{}),
		otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool { return !isInfra(info.FullMethodName) })))
}

// span starts a child span of the call's for one stage of the pipeline;
// with tracing off it makes nothing.
func (s *Server) span(ctx context.Context, name string) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, nil
	}
	return s.tracer.Start(ctx, name)
}

// endSpan ends a stage's span with what the call is (never a secret: no
// encryption context, no message) and the stage's error kind.
func endSpan(sp trace.Span, c *Call, err error) {
	if sp == nil {
		return
	}
	sp.SetAttributes(attribute.String("keygate.action", c.Action), attribute.String("keygate.decision", c.Decision))
	if c.Key != nil {
		sp.SetAttributes(attribute.String("keygate.key", c.KeyName), attribute.String("keygate.backend", c.Key.Key.Backend))
	}
	if err != nil {
		sp.SetStatus(codes.Error, kgerr.KindOf(err).String())
	}
	sp.End()
}

// admitTraced runs the stages before the handler (validation, key
// resolution, policy) in a "keygate.policy" span.
func (s *Server) admitTraced(ctx context.Context, c *Call, req any) error {
	sctx, sp := s.span(ctx, "keygate.policy")
	err := s.admit(sctx, c, req)
	endSpan(sp, c, err)
	return err
}

// invokeTraced runs the handler, the backend operation, in a
// "keygate.backend" span.
func (s *Server) invokeTraced(ctx context.Context, c *Call, handler func(context.Context) (any, error)) (any, error) {
	sctx, sp := s.span(ctx, "keygate.backend")
	resp, err := s.invoke(sctx, c, handler)
	endSpan(sp, c, err)
	return resp, err
}

// record makes the call's audit record in a "keygate.audit" span.
func (s *Server) record(ctx context.Context, c *Call) error {
	sctx, sp := s.span(ctx, "keygate.audit")
	err := s.rec.Record(sctx, c)
	endSpan(sp, c, err)
	return err
}
