package e2e

import (
	"context"
	"crypto"
	"crypto/sha256"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/keygate/keygate/client"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// A Sign through client.Signer, inside the caller's span, is one trace:
// the caller's span, the client's RPC span, keygated's span continuing it
// (trace context propagated over the wire), and under that the pipeline's
// stages: policy, backend operation, audit commit. No span carries the
// message.
func TestTracingSign(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	env := harness.Start(t, harness.Options{ServerOptions: server.Options{TracerProvider: tp}})
	admins := harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}}
	env.CreateKeyWithPolicy("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", harness.Policy(admins,
		harness.Statement{Sid: "Acs", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign", "kms:GetPublicKey"}}))
	ca, cert, key := env.TLSFiles("acs")
	ctx := context.Background()
	c, err := client.Dial(ctx, env.Addr, client.WithTLSFiles(ca, cert, key), client.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	signer, err := c.Signer(ctx, "acs-signing")
	if err != nil {
		t.Fatal(err)
	}
	exp.Reset()

	ctx, parent := tp.Tracer("acs").Start(ctx, "acs.challenge")
	digest := sha256.Sum256([]byte("secret-message-never-in-a-span"))
	if _, err := signer.SignContext(ctx, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	parent.End()

	spans := exp.GetSpans()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("span %s is in trace %s, not the caller's %s", s.Name, s.SpanContext.TraceID(), parent.SpanContext().TraceID())
		}
		for _, a := range s.Attributes {
			if v := a.Value.Emit(); v == string(digest[:]) || v == "secret-message-never-in-a-span" {
				t.Errorf("span %s carries the message in %s", s.Name, a.Key)
			}
		}
		byName[s.Name+"/"+s.SpanKind.String()] = s
	}
	clientSpan, ok := byName["keygate.v1.CryptoService/Sign/client"]
	if !ok {
		t.Fatalf("no client span for Sign in %v", names(spans))
	}
	serverSpan, ok := byName["keygate.v1.CryptoService/Sign/server"]
	if !ok {
		t.Fatalf("no server span for Sign in %v", names(spans))
	}
	if clientSpan.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client span's parent is %s, want the caller's span", clientSpan.Parent.SpanID())
	}
	if serverSpan.Parent.SpanID() != clientSpan.SpanContext.SpanID() || !serverSpan.Parent.IsRemote() {
		t.Errorf("server span's parent is %v, want the client span over the wire", serverSpan.Parent)
	}
	for _, stage := range []string{"keygate.policy", "keygate.backend", "keygate.audit"} {
		s, ok := byName[stage+"/"+trace.SpanKindInternal.String()]
		if !ok {
			t.Errorf("no %s span in %v", stage, names(spans))
			continue
		}
		if s.Parent.SpanID() != serverSpan.SpanContext.SpanID() {
			t.Errorf("%s is not a child of the server span", stage)
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes {
			attrs[string(a.Key)] = a.Value.Emit()
		}
		if attrs["keygate.action"] != "kms:Sign" || attrs["keygate.key"] != "acs-signing" || attrs["keygate.decision"] != "Allow" {
			t.Errorf("%s attributes %v", stage, attrs)
		}
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name+"/"+s.SpanKind.String())
	}
	return out
}
