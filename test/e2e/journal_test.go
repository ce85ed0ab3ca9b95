package e2e

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// An administrative change and its audit event commit in one transaction:
// the event names the transition and the registry's digest, is recorded
// once, and when the audit log cannot be written the change is not made.
func TestRegistryChangeCommitsWithItsEvent(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	ctx := context.Background()
	admin := env.Admin("admin")
	if _, err := admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "data-key"}); err != nil {
		t.Fatal(err)
	}
	evs := events(t, env, &pb.EventFilter{KeyName: "data-key", Action: "keygate:CreateKeyVersion"})
	if len(evs) != 1 {
		t.Fatalf("%d events for one rotation, want 1", len(evs))
	}
	if e := evs[0]; e.KeyVersion != 2 || e.Result != "OK" || !strings.HasPrefix(e.Detail, "v2 (new) -> ACTIVE; v1 ACTIVE -> RETIRED; registry revision 1 sha256:") ||
		e.Principal != harness.ARN("admin") {
		t.Fatalf("rotation event: %+v", e)
	}

	// Take the chain's head away behind keygated's back: no audit append
	// can commit, so no change can either.
	db, err := sql.Open("sqlite", env.Config.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE audit_head RENAME TO audit_head_away`); err != nil {
		t.Fatal(err)
	}
	_, err = admin.DisableKey(ctx, &pb.DisableKeyRequest{KeyId: "data-key"})
	wantCode(t, err, codes.Unavailable)
	_, err = admin.RetireKeyVersion(ctx, &pb.RetireKeyVersionRequest{KeyId: "data-key", Version: 2})
	wantCode(t, err, codes.Unavailable)
	if _, err := db.Exec(`ALTER TABLE audit_head_away RENAME TO audit_head`); err != nil {
		t.Fatal(err)
	}
	waitAuditBack(t, env)
	d, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "data-key"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Key.KeyState != "ENABLED" || d.Key.Versions[1].State != "ACTIVE" {
		t.Fatalf("a change was made without its audit event: key %s, v2 %s", d.Key.KeyState, d.Key.Versions[1].State)
	}
	v, err := pb.NewAuditServiceClient(env.Conn("admin")).VerifyLog(ctx, &pb.VerifyLogRequest{})
	if err != nil || !v.Ok {
		t.Fatalf("the chain with registry events does not verify: %v %v", v, err)
	}
}

// A create or rotation whose registry change cannot commit leaves no
// object behind on the token.
func TestFailedChangeLeavesNoOrphan(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	ctx := context.Background()
	admin := env.Admin("admin")
	db, err := sql.Open("sqlite", env.Config.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE audit_head RENAME TO audit_head_away`); err != nil {
		t.Fatal(err)
	}
	_, err = admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "data-key"})
	wantCode(t, err, codes.Unavailable)
	_, err = admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "ec", KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"}) // the default policy: made at once
	wantCode(t, err, codes.Unavailable)
	if n, m := env.Token.Objects(t, "data-key/v2"), env.Token.Objects(t, "ec/v1"); n != 0 || m != 0 {
		t.Fatalf("failed changes left %d and %d objects on the token", n, m)
	}
	if _, err := db.Exec(`ALTER TABLE audit_head_away RENAME TO audit_head`); err != nil {
		t.Fatal(err)
	}
	waitAuditBack(t, env)
	if _, err := admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "data-key"}); err != nil {
		t.Fatal(err)
	}
	if n := env.Token.Objects(t, "data-key/v2"); n != 1 {
		t.Fatalf("a rotation that committed has %d objects on the token", n)
	}
}

// waitAuditBack waits for keygated to find its audit log writable again:
// after a failed commit it refuses calls until its own probe commits
// (server/readiness.go), and says so in its overall health.
func waitAuditBack(t *testing.T, env *harness.Env) {
	t.Helper()
	hc := healthpb.NewHealthClient(env.Conn("admin"))
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil && r.Status == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("keygated did not recover its audit log: %v %v", r, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
