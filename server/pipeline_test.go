package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/audit"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// peerCtx is the context a gRPC handler gets for a verified client
// certificate, for driving the interceptor directly.
func peerCtx(cert *x509.Certificate) context.Context {
	return peer.NewContext(context.Background(), &peer.Peer{
		Addr:     &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000},
		AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}},
	})
}

// lastEvent is the newest audit event of an action.
func (e *testEnv) lastEvent(action string) *audit.Event {
	e.t.Helper()
	evs, err := e.srv.chain.log.Events(context.Background(), audit.Query{Action: action, Desc: true, Limit: 1})
	must(e.t, err)
	if len(evs) == 0 {
		e.t.Fatalf("no audit event for %s", action)
	}
	return evs[0]
}

// An unauthorized caller gets the same PermissionDenied for a key that
// exists with another usage as for one it may not use: nothing about the
// key is revealed before the policy allows the call. An authorized caller
// then learns the usage.
func TestAuthorizationBeforeReveal(t *testing.T) {
	e := startEnv(t, "")
	e.createKey("mac-key", "HMAC_256", "GENERATE_VERIFY_MAC", policyDoc(map[string][]string{arn("acs"): {"kms:*"}}))
	e.createKey("sign-key", "ECC_NIST_P256", "SIGN_VERIFY", policyDoc(nil))
	ctx := context.Background()
	ds := e.crypto("ds")
	_, errUsage := ds.Sign(ctx, &pb.SignRequest{KeyId: "mac-key", Message: []byte("m")})
	_, errPolicy := ds.Sign(ctx, &pb.SignRequest{KeyId: "sign-key", Message: []byte("m")})
	for _, err := range []error{errUsage, errPolicy} {
		if status.Code(err) != codes.PermissionDenied {
			t.Fatalf("unauthorized Sign: %v, want PermissionDenied", err)
		}
	}
	strip := func(err error) string {
		return strings.NewReplacer("mac-key", "K", "sign-key", "K").Replace(status.Convert(err).Message())
	}
	if strip(errUsage) != strip(errPolicy) {
		t.Errorf("the refusals differ:\n%s\n%s", status.Convert(errUsage).Message(), status.Convert(errPolicy).Message())
	}
	if strings.Contains(status.Convert(errUsage).Message(), "GENERATE_VERIFY_MAC") {
		t.Errorf("the refusal reveals the key's usage: %v", errUsage)
	}
	_, err := e.crypto("acs").Sign(ctx, &pb.SignRequest{KeyId: "mac-key", Message: []byte("m")})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "GENERATE_VERIFY_MAC") {
		t.Fatalf("authorized Sign with a MAC key: %v, want FailedPrecondition naming the usage", err)
	}
	if ev := e.lastEvent("kms:Sign"); ev.Decision != "Allow" || ev.Result != "FailedPrecondition" {
		t.Errorf("audit: decision %q result %q", ev.Decision, ev.Result)
	}
}

// A handler that panics becomes Internal, is audited, and the server goes
// on serving.
func TestPanicBecomesInternalAndIsAudited(t *testing.T) {
	e := startEnv(t, "")
	e.createKey("mac-key", "HMAC_256", "GENERATE_VERIFY_MAC", policyDoc(nil))
	_, admin := e.cert("admin", uriOf("admin"))
	info := &grpc.UnaryServerInfo{FullMethod: "/keygate.v1.KeyAdminService/DescribeKey"}
	_, err := e.srv.unary(peerCtx(admin), &pb.DescribeKeyRequest{KeyId: "mac-key"}, info, func(context.Context, any) (any, error) {
		panic("handler bug")
	})
	if status.Code(err) != codes.Internal || strings.Contains(err.Error(), "handler bug") {
		t.Fatalf("panic: %v, want Internal without the panic's text", err)
	}
	if ev := e.lastEvent("kms:DescribeKey"); ev.Result != "Internal" || ev.KeyName != "mac-key" {
		t.Errorf("panic audited as %q on %q", ev.Result, ev.KeyName)
	}
	if !strings.Contains(e.log.String(), "handler panicked") {
		t.Error("the panic was not logged")
	}
	if _, err := e.admin("admin").DescribeKey(context.Background(), &pb.DescribeKeyRequest{KeyId: "mac-key"}); err != nil {
		t.Fatalf("after the panic: %v", err)
	}
}

// A call that reaches its handler without an Allow is Internal and logged
// loudly, never answered; so is a method with no descriptor.
func TestNoAnswerWithoutAllow(t *testing.T) {
	e := startEnv(t, "")
	called := false
	handler := func(context.Context) (any, error) { called = true; return "answer", nil }
	c := &Call{Method: "/keygate.v1.KeyAdminService/ListKeys", Action: "kms:ListKeys"}
	if _, err := e.srv.invoke(context.Background(), c, handler); err == nil || called {
		t.Fatalf("a call without a decision reached its handler (err %v)", err)
	}
	c.Decision = "ImplicitDeny"
	if _, err := e.srv.invoke(context.Background(), c, handler); err == nil || called {
		t.Fatalf("a denied call reached its handler (err %v)", err)
	}
	// An answer without an Allow is refused when the call finishes.
	c.Err = nil
	if err := e.srv.finish(context.Background(), c); status.Code(err) != codes.Internal {
		t.Fatalf("finish without an Allow: %v, want Internal", err)
	}
	if !strings.Contains(e.log.String(), "without an Allow") {
		t.Error("no loud log line")
	}

	_, admin := e.cert("admin", uriOf("admin"))
	info := &grpc.UnaryServerInfo{FullMethod: "/keygate.v1.KeyAdminService/Undeclared"}
	_, err := e.srv.unary(peerCtx(admin), &pb.ListKeysRequest{}, info, func(context.Context, any) (any, error) {
		called = true
		return &pb.ListKeysResponse{}, nil
	})
	if status.Code(err) != codes.Internal || called {
		t.Fatalf("method without a descriptor: %v (handler called: %t)", err, called)
	}
	if ev := e.lastEvent("keygate:Unknown"); ev.Result != "Internal" {
		t.Errorf("undeclared method audited as %q", ev.Result)
	}
}
