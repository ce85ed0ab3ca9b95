package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// The demo's auditor (issue 16, finding 4) produces the inventory, the
// policies and the audit log with its own certificate and cannot change
// anything; the demo admin cannot read the audit log.
func TestDemoAuditor(t *testing.T) {
	home := filepath.Join(t.TempDir(), "keygate")
	listen := harness.FreeAddr(t)
	runDemo(t, home, listen)
	dial := func(id string) *grpc.ClientConn {
		cfg, err := server.ClientTLS(filepath.Join(home, "tls/ca.pem"), filepath.Join(home, "tls", id+".pem"), filepath.Join(home, "tls", id+"-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient(listen, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	ctx := context.Background()
	auditor := dial("auditor")
	adm, audit := pb.NewKeyAdminServiceClient(auditor), pb.NewAuditServiceClient(auditor)
	keys, err := adm.ListKeys(ctx, &pb.ListKeysRequest{})
	if err != nil || len(keys.Keys) < 7 {
		t.Fatalf("the auditor's key list: %v %v", keys, err)
	}
	for _, k := range keys.Keys {
		if p, err := adm.GetKeyPolicy(ctx, &pb.GetKeyPolicyRequest{KeyId: k.KeyId}); err != nil || p.Policy == "" {
			t.Errorf("the auditor reads %s's policy: %v", k.KeyId, err)
		}
	}
	if inv, err := audit.GetInventory(ctx, &pb.GetInventoryRequest{}); err != nil || len(inv.Keys) < 7 {
		t.Errorf("the auditor's inventory: %v", err)
	}
	if v, err := audit.VerifyLog(ctx, &pb.VerifyLogRequest{}); err != nil || !v.Ok {
		t.Errorf("the auditor's audit verify: %v %v", v, err)
	}
	_, err = adm.DisableKey(ctx, &pb.DisableKeyRequest{KeyId: "av-mac"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = adm.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "av-mac", Policy: harness.OpenPolicy()})
	wantCode(t, err, codes.PermissionDenied)

	_, err = pb.NewAuditServiceClient(dial("admin")).ListEvents(ctx, &pb.ListEventsRequest{})
	wantCode(t, err, codes.PermissionDenied)
	if err != nil && !strings.Contains(err.Error(), "needs the auditor role") {
		t.Errorf("the admin's audit read: %v", err)
	}
}
