package server

import (
	"context"
	"crypto/x509"
	"io"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Certificate → principal is unambiguous: a URI SAN is compared byte for
// byte in its own namespace, a CN in another, and a certificate with
// several URI SANs is nobody.
func TestCertificateIdentity(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	list := func(cn string, uris ...string) error {
		c, _ := e.cert(cn, uris...)
		_, err := pb.NewKeyAdminServiceClient(e.dial(c)).ListKeys(ctx, &pb.ListKeysRequest{})
		return err
	}
	if err := list("admin", uriOf("admin")); err != nil {
		t.Fatalf("the admin's certificate: %v", err)
	}
	for name, tc := range map[string]struct {
		cn   string
		uris []string
		says string
	}{
		"a CN that reads like the admin's URI": {uriOf("admin"), nil, "not mapped"},
		"the URI with an upper-case scheme":    {"admin", []string{"SPIFFE://keygate.test/admin"}, "not mapped"},
		"two URI SANs, the admin's first":      {"admin", []string{uriOf("admin"), uriOf("acs")}, "2 URI SANs"},
		"a mapped CN beside an unmapped URI":   {"ops-by-cn", []string{uriOf("nobody")}, "not mapped"},
	} {
		err := list(tc.cn, tc.uris...)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want PermissionDenied saying %q", name, err, tc.says)
		}
	}
	// A CN-mapped principal (no URI SAN) is who its mapping says.
	c, _ := e.cert("ops-by-cn")
	_, err := pb.NewKeyAdminServiceClient(e.dial(c)).ListKeys(ctx, &pb.ListKeysRequest{})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), arn("ops")) {
		t.Errorf("CN-mapped principal: %v, want a refusal naming %s", err, arn("ops"))
	}
}

// A config cannot put a URI-looking identity in the CN namespace, nor a
// bare name in the URI one.
func TestConfigIdentitySources(t *testing.T) {
	bad := strings.Replace(goodConfig, `- {identity: "spiffe://x/acs", arn: "arn:aws:iam::111122223333:role/acs"}`,
		`- {identity: "spiffe://x/acs", source: cn, arn: "arn:aws:iam::111122223333:role/acs"}
  - {identity: "ops", source: uri, arn: "arn:aws:iam::111122223333:role/ops"}
  - {identity: "x", source: san, arn: "arn:aws:iam::111122223333:role/x"}`, 1)
	_, err := ParseConfig([]byte(bad))
	for _, want := range []string{"principals[0]: a cn identity", "principals[1]: a uri identity", "principals[2].source"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("config error %v does not say %q", err, want)
		}
	}
}

// A revoked certificate fails the handshake; the list is reloaded when the
// file changes, without a restart.
func TestCertificateRevocation(t *testing.T) {
	e, crlFile, writeCRL := startWithCRL(t)
	stolen, leaf := e.cert("admin", uriOf("admin"))
	ctx := context.Background()
	if _, err := pb.NewKeyAdminServiceClient(e.dial(stolen)).ListKeys(ctx, &pb.ListKeysRequest{}); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	writeCRL(big.NewInt(1), leaf.SerialNumber)
	_, err := pb.NewKeyAdminServiceClient(e.dial(stolen)).ListKeys(ctx, &pb.ListKeysRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("revoked certificate: %v, want the handshake to fail", err)
	}
	other, _ := e.cert("admin", uriOf("admin"))
	if _, err := pb.NewKeyAdminServiceClient(e.dial(other)).ListKeys(ctx, &pb.ListKeysRequest{}); err != nil {
		t.Fatalf("another certificate after the revocation: %v", err)
	}
	// A list the CA did not sign is refused at startup.
	must(t, os.WriteFile(crlFile, []byte("not a CRL"), 0o644))
	cas := []*x509.Certificate{e.ca.Cert}
	if _, err := newCRLChecker(crlFile, cas, time.Now); err == nil {
		t.Error("a garbage CRL was accepted")
	}
}

// Health and reflection answer mapped principals only; reflection can be
// turned off.
func TestHealthAndReflection(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	if _, err := healthpb.NewHealthClient(e.as("acs")).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health for a mapped principal: %v", err)
	}
	_, err := healthpb.NewHealthClient(e.as("stranger")).Check(ctx, &healthpb.HealthCheckRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("health for an unmapped certificate: %v", err)
	}
	if ev := e.lastEvent("keygate:Health"); ev.Result != "PermissionDenied" {
		t.Errorf("the refusal was audited as %q", ev.Result)
	}
	if got := reflectAs(t, e, "stranger"); status.Code(got) != codes.PermissionDenied {
		t.Errorf("reflection for an unmapped certificate: %v", got)
	}
	if got := reflectAs(t, e, "acs"); got != nil {
		t.Errorf("reflection for a mapped principal: %v", got)
	}
	off := startEnv(t, "disable_reflection: true\n")
	if got := reflectAs(t, off, "admin"); status.Code(got) != codes.Unimplemented {
		t.Errorf("reflection turned off: %v", got)
	}
}

func reflectAs(t *testing.T, e *testEnv, role string) error {
	stream, err := rpb.NewServerReflectionClient(e.as(role)).ServerReflectionInfo(context.Background())
	if err != nil {
		return err
	}
	// A refused stream's Send may see only io.EOF; Recv has the status.
	if err := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil && err != io.EOF {
		return err
	}
	_, err = stream.Recv()
	return err
}
