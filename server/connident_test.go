package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// The caller is resolved once per connection and again after a reload: a
// certificate revoked after its handshake keeps its open connection only
// until the reload brings the new list, then every call on it is refused
// (and audited as refused), while another certificate's connection goes on.
func TestRevokedOpenConnectionRefusedAfterReload(t *testing.T) {
	e, _, writeCRL := startWithCRL(t)
	ctx := context.Background()
	stolen, leaf := e.cert("admin", uriOf("admin"))
	other, _ := e.cert("admin", uriOf("admin"))
	stolenConn := pb.NewKeyAdminServiceClient(e.dial(stolen))
	otherConn := pb.NewKeyAdminServiceClient(e.dial(other))
	for _, c := range []pb.KeyAdminServiceClient{stolenConn, otherConn} {
		if _, err := c.ListKeys(ctx, &pb.ListKeysRequest{}); err != nil {
			t.Fatalf("before revocation: %v", err)
		}
	}
	writeCRL(leaf.SerialNumber)
	// Until the reload, the open connection keeps the identity its
	// handshake proved (new handshakes read the file at once).
	if _, err := stolenConn.ListKeys(ctx, &pb.ListKeysRequest{}); err != nil {
		t.Fatalf("open connection before the reload: %v", err)
	}
	must(t, e.srv.Reload())
	_, err := stolenConn.ListKeys(ctx, &pb.ListKeysRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("revoked certificate's open connection after the reload: %v, want PermissionDenied", err)
	}
	if _, err := otherConn.ListKeys(ctx, &pb.ListKeysRequest{}); err != nil {
		t.Fatalf("another certificate's open connection after the reload: %v", err)
	}
	resp, err := pb.NewAuditServiceClient(e.dial(other)).ListEvents(ctx, &pb.ListEventsRequest{
		Filter: &pb.EventFilter{Action: "kms:ListKeys", Result: "PermissionDenied"}})
	must(t, err)
	if len(resp.Events) != 1 || resp.Events[0].CertSerial != leaf.SerialNumber.Text(16) {
		t.Fatalf("refused call's events: %v, want one naming serial %s", resp.Events, leaf.SerialNumber.Text(16))
	}
}

// BenchmarkIdentify is the identity stage alone: resolving the caller
// from the peer certificate on every call (as before) against reading it
// from the connection.
//
//	go test -run '^$' -bench Identify -benchmem ./server
func BenchmarkIdentify(b *testing.B) {
	e := startEnv(b, "")
	_, leaf := e.cert("acs", uriOf("acs"))
	ti := credentials.TLSInfo{State: tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{leaf, e.ca.Cert}}}}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}, AuthInfo: ti})
	b.Run("per call", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := e.srv.resolve(ctx, e.srv.reload.cur.Load()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("per connection", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := e.srv.identify(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
