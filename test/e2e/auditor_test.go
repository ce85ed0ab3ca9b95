package e2e

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// Finding 4 of issue 16 (in part): an auditor reads the inventory, every
// key's policy, its history and certificate chains, and the audit log,
// whatever the key's policy says, and changes or uses nothing.
func TestAuditorReadsEverythingChangesNothing(t *testing.T) {
	// admin2 is an auditor here, not an admin; admin administers the key
	// and grants itself no use of it (that would wait for a second admin).
	env := harness.Start(t, harness.Options{Admins: []string{harness.ARN("admin")}, Auditors: []string{harness.ARN("admin"), harness.ARN("admin2")}})
	ctx := context.Background()
	env.CreateKeyWithPolicy("issuer-cavv", "HMAC_256", "GENERATE_VERIFY_MAC", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:EnableKey", "kms:DisableKey"}}))
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

// Finding 4 of issue 16, the rest: duties kept apart. An admin that is not
// also an auditor cannot read the audit log; a policy change that grants
// its own author use of the key waits for a different admin, while one
// that grants the author nothing new goes through.
func TestDutiesApart(t *testing.T) {
	env := harness.Start(t, harness.Options{Auditors: []string{harness.ARN("auditor")}})
	ctx := context.Background()
	admins := harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin"), harness.ARN("admin2")},
		Actions: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "keygate:ApproveOperation"}}
	acs := harness.Statement{Sid: "Acs", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:GenerateMac"}}
	env.CreateKeyWithPolicy("issuer-cavv", "HMAC_256", "GENERATE_VERIFY_MAC", harness.Policy(admins, acs))

	// The admin reads nothing of the audit log; the auditor does.
	adminAudit := pb.NewAuditServiceClient(env.Conn("admin"))
	for name, call := range map[string]func() error{
		"ListEvents":   func() error { _, err := adminAudit.ListEvents(ctx, &pb.ListEventsRequest{}); return err },
		"VerifyLog":    func() error { _, err := adminAudit.VerifyLog(ctx, &pb.VerifyLogRequest{}); return err },
		"GetInventory": func() error { _, err := adminAudit.GetInventory(ctx, &pb.GetInventoryRequest{}); return err },
	} {
		err := call()
		wantCode(t, err, codes.PermissionDenied)
		if err != nil && !strings.Contains(err.Error(), "needs the auditor role") {
			t.Errorf("admin %s: %v, want the message to name the auditor role", name, err)
		}
	}
	auditor := pb.NewAuditServiceClient(env.Conn("auditor"))
	if _, err := auditor.ListEvents(ctx, &pb.ListEventsRequest{}); err != nil {
		t.Fatalf("the auditor's ListEvents: %v", err)
	}

	// admin grants itself GenerateMac: held for a second admin.
	adm, adm2 := env.Admin("admin"), env.Admin("admin2")
	before, err := adm.GetKeyPolicy(ctx, &pb.GetKeyPolicyRequest{KeyId: "issuer-cavv"})
	if err != nil {
		t.Fatal(err)
	}
	self := harness.Statement{Sid: "AdminTries", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:GenerateMac"}}
	resp, err := adm.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "issuer-cavv", Policy: harness.Policy(admins, acs, self)})
	if err != nil || resp.PendingApproval == nil || !strings.Contains(resp.PendingApproval.Description, "kms:GenerateMac") {
		t.Fatalf("a self-granting policy change: %v %v, want a pending approval naming kms:GenerateMac", resp, err)
	}
	if now, err := adm.GetKeyPolicy(ctx, &pb.GetKeyPolicyRequest{KeyId: "issuer-cavv"}); err != nil || now.Policy != before.Policy {
		t.Fatalf("the policy changed before approval: %v", err)
	}
	mac := func() error {
		_, err := env.Crypto("admin").GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "issuer-cavv", Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"})
		return err
	}
	wantCode(t, mac(), codes.PermissionDenied)
	_, err = adm.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: resp.PendingApproval.Id})
	wantCode(t, err, codes.FailedPrecondition)
	if _, err := adm2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: resp.PendingApproval.Id}); err != nil {
		t.Fatalf("the second admin's approval: %v", err)
	}
	waitFor(t, "the approved policy in force", func() bool { return mac() == nil }) // key_refresh

	// A change that grants its author nothing new needs no second admin.
	ds := harness.Statement{Sid: "Ds", Principals: []string{harness.ARN("ds")}, Actions: []string{"kms:VerifyMac"}}
	resp, err = adm.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "issuer-cavv", Policy: harness.Policy(admins, acs, self, ds)})
	if err != nil || resp.PendingApproval != nil {
		t.Fatalf("a policy change granting the author nothing new: %v %v", resp, err)
	}
	// Nor does one by admin2 that grants admin (not its author) use.
	resp, err = adm2.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "issuer-cavv", Policy: harness.Policy(admins, acs, self, ds,
		harness.Statement{Sid: "AdminVerifies", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:VerifyMac"}})})
	if err != nil || resp.PendingApproval != nil {
		t.Fatalf("admin2 granting admin VerifyMac: %v %v", resp, err)
	}
}
