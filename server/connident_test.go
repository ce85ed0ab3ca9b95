package server

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// The caller is resolved once per connection and again after a reload: a
// certificate revoked after its handshake keeps its open connection only
// until the reload brings the new list, then every call on it is refused
// (and audited as refused), while another certificate's connection goes on.
func TestRevokedOpenConnectionRefusedAfterReload(t *testing.T) {
	crlFile := filepath.Join(t.TempDir(), "clients.crl")
	var e *testEnv
	writeCRL := func(serials ...*big.Int) {
		t.Helper()
		tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Hour),
			NextUpdate: time.Now().Add(24 * time.Hour)}
		for _, s := range serials {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, e.ca.Cert, e.ca.Key)
		must(t, err)
		must(t, os.WriteFile(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644))
	}
	e = startEnvWith(t, "", func(env *testEnv, cfg *Config) {
		e = env
		writeCRL()
		cfg.TLS.CRLFile = crlFile
	}, Options{})
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
