package e2e

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// Finding 1 of issue 16: a key's policy edited directly in the database
// (granting ds MAC rights it was never given) is refused at use, loudly,
// and `audit verify` reports the row; an admin change cannot launder it.
func TestRegistryRowEditedOutsideKeygateIsRefused(t *testing.T) {
	var logs harness.LogBuffer
	env := harness.Start(t, harness.Options{Log: &logs})
	ctx := context.Background()
	env.CreateKeyWithPolicy("issuer-cavv", "HMAC_256", "GENERATE_VERIFY_MAC", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "ACS", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:GenerateMac"}}))
	mac := func(id string) error {
		_, err := env.Crypto(id).GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "issuer-cavv", Message: []byte("cavv"), MacAlgorithm: "HMAC_SHA_256"})
		return err
	}
	if err := mac("acs"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, mac("ds"), codes.PermissionDenied)
	admin := pb.NewAuditServiceClient(env.Conn("admin"))
	if v, err := admin.VerifyLog(ctx, &pb.VerifyLogRequest{}); err != nil || !v.Ok {
		t.Fatalf("VerifyLog before the edit: %+v %v", v, err)
	}

	db, err := sql.Open("sqlite", env.Config.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE keys SET policy = ? WHERE name = 'issuer-cavv'`, harness.OpenPolicy()); err != nil {
		t.Fatal(err)
	}

	// The replica re-reads the key within key_refresh (100ms); wait for
	// the call to stop being denied, with a deadline no load can reach.
	deadline := time.Now().Add(2 * time.Minute)
	for err = mac("ds"); status.Code(err) == codes.PermissionDenied && time.Now().Before(deadline); err = mac("ds") {
		time.Sleep(20 * time.Millisecond)
	}
	wantCode(t, err, codes.Unavailable)
	if !strings.Contains(err.Error(), `key "issuer-cavv" is refused: its stored row`) || !strings.Contains(err.Error(), "changed outside keygate") {
		t.Fatalf("refusal: %v", err)
	}
	wantCode(t, mac("acs"), codes.Unavailable) // the whole key, not only the new grant
	// An admin change would write the edited row back under the admin's name.
	_, err = env.Admin("admin").DisableKey(ctx, &pb.DisableKeyRequest{KeyId: "issuer-cavv"})
	wantCode(t, err, codes.Unavailable)
	if n := strings.Count(logs.String(), "KEY REGISTRY ROW CHANGED OUTSIDE KEYGATE"); n != 1 {
		t.Fatalf("%d alarm lines for one edited row, want 1:\n%s", n, logs.String())
	}

	v, err := admin.VerifyLog(ctx, &pb.VerifyLogRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Ok || len(v.Problems) != 1 || v.Problems[0].Kind != "registry" || !strings.Contains(v.Problems[0].Message, `key "issuer-cavv": stored row`) {
		t.Fatalf("VerifyLog after the edit: %+v", v)
	}
}
