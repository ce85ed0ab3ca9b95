package e2e

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// Finding 4 of issue 16 (in part): an auditor reads the inventory, every
// key's policy, its history and certificate chains, and the audit log,
// whatever the key's policy says, and changes or uses nothing.
func TestAuditorReadsEverythingChangesNothing(t *testing.T) {
	env := harness.Start(t, harness.Options{ExtraConfig: "auditors: [" + harness.ARN("admin2") + "]\n"})
	ctx := context.Background()
	env.CreateKeyWithPolicy("issuer-cavv", "HMAC_256", "GENERATE_VERIFY_MAC", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}}))
	adm := env.Admin("admin2")
	if l, err := adm.ListKeys(ctx, &pb.ListKeysRequest{}); err != nil || len(l.Keys) == 0 {
		t.Fatalf("ListKeys: %v %v", l, err)
	}
	if _, err := adm.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "issuer-cavv"}); err != nil {
		t.Fatal(err)
	}
	if p, err := adm.GetKeyPolicy(ctx, &pb.GetKeyPolicyRequest{KeyId: "issuer-cavv"}); err != nil || p.Policy == "" {
		t.Fatalf("GetKeyPolicy: %v %v", p, err)
	}
	if h, err := adm.GetKeyPolicyHistory(ctx, &pb.GetKeyPolicyHistoryRequest{KeyId: "issuer-cavv"}); err != nil || len(h.Changes) != 1 {
		t.Fatalf("GetKeyPolicyHistory: %v %v", h, err)
	}
	evs := events(t, env, &pb.EventFilter{KeyName: "issuer-cavv", Principal: harness.ARN("admin2")})
	if len(evs) == 0 || evs[0].Sid != "config:auditors" {
		t.Fatalf("the auditor's reads: %v", evs)
	}
	if _, err := pb.NewAuditServiceClient(env.Conn("admin2")).ListEvents(ctx, &pb.ListEventsRequest{}); err != nil {
		t.Fatal(err)
	}

	_, err := adm.DisableKey(ctx, &pb.DisableKeyRequest{KeyId: "issuer-cavv"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = adm.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "issuer-cavv", Policy: harness.OpenPolicy()})
	wantCode(t, err, codes.PermissionDenied)
	_, err = adm.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "auditor-key", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = env.Crypto("admin2").GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "issuer-cavv", Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"})
	wantCode(t, err, codes.PermissionDenied)
}
