package client

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Client is a connection to keygated and its services.
type Client struct {
	conn    *grpc.ClientConn
	timeout time.Duration

	Crypto  pb.CryptoServiceClient
	Admin   pb.KeyAdminServiceClient
	Audit   pb.AuditServiceClient
	Policy  pb.PolicyServiceClient
	ThreeDS pb.ThreeDSServiceClient
}

type options struct {
	tls         *tls.Config
	ca, cert    string
	key         string
	signer      crypto.Signer
	timeout     time.Duration
	retries     int
	dialOptions []grpc.DialOption
	tracer      trace.TracerProvider
}

// Option configures Dial.
type Option func(*options)

// WithTLSFiles takes the CA bundle that signs keygated's certificate and
// the caller's certificate and key from PEM files, read again whenever
// they change.
func WithTLSFiles(caFile, certFile, keyFile string) Option {
	return func(o *options) { o.ca, o.cert, o.key = caFile, certFile, keyFile }
}

// WithTLSSigner is WithTLSFiles with the client's private key held by
// key, e.g. a pkcs11key.Key whose key stays in a token: the handshake's
// signature is made there. certFile must certify key's public key.
func WithTLSSigner(caFile, certFile string, key crypto.Signer) Option {
	return func(o *options) { o.ca, o.cert, o.signer = caFile, certFile, key }
}

// WithTLSConfig uses the caller's own TLS configuration (it must present a
// client certificate).
func WithTLSConfig(c *tls.Config) Option { return func(o *options) { o.tls = c } }

// WithTimeout is the deadline given to a call whose context has none
// (default 10s). Retries happen inside it.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithMaxAttempts bounds the attempts of a retryable call, 1 to 5
// (default 4; 1 turns retries off).
func WithMaxAttempts(n int) Option { return func(o *options) { o.retries = n } }

// WithDialOptions adds gRPC dial options (interceptors, tracing).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithTracerProvider traces calls with tp (default: OpenTelemetry's
// global provider). Either way the caller's trace context is sent to
// keygated (W3C traceparent), so its spans join the caller's trace.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(o *options) { o.tracer = tp } }

// Dial connects to keygated at addr (host:port). The connection is made
// lazily, as gRPC does; ctx bounds only Dial's own setup.
func Dial(ctx context.Context, addr string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := options{timeout: 10 * time.Second, retries: 4}
	for _, opt := range opts {
		opt(&o)
	}
	if o.retries < 1 || o.retries > 5 {
		return nil, fmt.Errorf("client: max attempts %d: must be 1 to 5", o.retries)
	}
	cfg := o.tls
	switch {
	case cfg != nil && o.ca != "":
		return nil, errors.New("client: give TLS files or a tls.Config, not both")
	case cfg == nil && (o.ca == "" || o.cert == "" || (o.key == "" && o.signer == nil)):
		return nil, errors.New("client: mutual TLS needs a CA, a client certificate and its key")
	case cfg == nil && o.signer != nil:
		fc, err := newSignerCreds(o.ca, o.cert, o.signer)
		if err != nil {
			return nil, err
		}
		cfg = fc.config()
	case cfg == nil:
		fc, err := newFileCreds(o.ca, o.cert, o.key)
		if err != nil {
			return nil, err
		}
		cfg = fc.config()
	}
	c := &Client{timeout: o.timeout}
	dial := append([]grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.WithChainUnaryInterceptor(c.unary),
		grpc.WithChainStreamInterceptor(c.stream),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(traceOptions(o.tracer)...)),
	}, o.dialOptions...)
	if o.retries > 1 { // gRPC's retry policy needs at least two attempts
		dial = append(dial, grpc.WithDefaultServiceConfig(serviceConfig(o.retries)))
	}
	conn, err := grpc.NewClient(addr, dial...)
	if err != nil {
		return nil, fmt.Errorf("client: %q: %w", addr, err)
	}
	c.conn = conn
	c.Crypto = pb.NewCryptoServiceClient(conn)
	c.Admin = pb.NewKeyAdminServiceClient(conn)
	c.Audit = pb.NewAuditServiceClient(conn)
	c.Policy = pb.NewPolicyServiceClient(conn)
	c.ThreeDS = pb.NewThreeDSServiceClient(conn)
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Conn is the underlying connection, for services this package does not
// wrap (health).
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// unary gives each call a deadline if it has none and an x-request-id if
// the caller set none; gRPC's retries then happen inside that deadline.
func (c *Client) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
	invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	ctx, cancel := c.prepare(ctx)
	defer cancel()
	return invoker(ctx, method, req, reply, cc, opts...)
}

// stream gives streams only a request id: an audit tail runs as long as
// its caller wants.
func (c *Client) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string,
	streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(withRequestID(ctx), desc, cc, method, opts...)
}

func (c *Client) prepare(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx = withRequestID(ctx)
	if _, ok := ctx.Deadline(); ok || c.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// RequestIDHeader is the metadata key keygate records as the audit event's
// correlation id.
const RequestIDHeader = "x-request-id"

func withRequestID(ctx context.Context) context.Context {
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(RequestIDHeader)) > 0 {
		return ctx
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return metadata.AppendToOutgoingContext(ctx, RequestIDHeader, hex.EncodeToString(b[:]))
}

// WithRequestID sets the x-request-id of the calls made with ctx, so a
// caller can use its own transaction id (the 3DS Server's threeDSServerTransID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, RequestIDHeader, id)
}

// retryable are the calls that are safe to repeat: reads, and operations
// whose repetition makes another valid output (a second signature, a
// second ciphertext) rather than a second change. The 3DS challenge calls
// advance the session's counters and are never retried.
var retryable = map[string][]string{
	"keygate.v1.CryptoService":   {""}, // every method
	"keygate.v1.KeyAdminService": {"DescribeKey", "ListKeys", "GetKeyPolicy", "GetCertificate"},
	"keygate.v1.AuditService":    {"ListEvents", "VerifyLog", "GetCheckpointKey"},
	"keygate.v1.PolicyService":   {"SimulatePolicy", "DiffKeyPolicy"},
	"keygate.v1.ThreeDSService":  {"CreateAcsSession", "DecryptSdkEncData"},
}

// serviceConfig is gRPC's own retry policy (jittered exponential backoff,
// server pushback honoured, attempts bounded by the call's deadline).
func serviceConfig(attempts int) string {
	var names []string
	for svc, methods := range retryable {
		for _, m := range methods {
			if m == "" {
				names = append(names, fmt.Sprintf(`{"service":%q}`, svc))
			} else {
				names = append(names, fmt.Sprintf(`{"service":%q,"method":%q}`, svc, m))
			}
		}
	}
	return fmt.Sprintf(`{"methodConfig":[{"name":[%s],"retryPolicy":{"maxAttempts":%d,`+
		`"initialBackoff":"0.1s","maxBackoff":"2s","backoffMultiplier":2,`+
		`"retryableStatusCodes":["UNAVAILABLE","RESOURCE_EXHAUSTED"]}}]}`, strings.Join(names, ","), attempts)
}

func traceOptions(tp trace.TracerProvider) []otelgrpc.Option {
	opts := []otelgrpc.Option{otelgrpc.WithPropagators(propagation.TraceContext{})}
	if tp != nil {
		opts = append(opts, otelgrpc.WithTracerProvider(tp))
	}
	return opts
}
