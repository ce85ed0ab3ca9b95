package server

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/keygate/keygate/policy"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Issue 16, finding 4, through CreateKey: a new key whose policy grants its
// creator a data-plane action is not made until a different admin
// approves, like a PutKeyPolicy that does; the request and the decision
// are both audited, and the creation runs once, as requested.
func TestCreateKeyGrantingItsCreatorWaits(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	admin, admin2 := e.admin("admin"), e.admin("admin2")
	self := policyDoc(map[string][]string{arn("acs"): {"kms:GenerateMac"}}) // admin: kms:*
	req := &pb.CreateKeyRequest{KeyId: "issuer-cavv", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Policy: self}
	resp, err := admin.CreateKey(ctx, req)
	if err != nil || resp.PendingApproval == nil || resp.Key != nil || resp.PendingApproval.Operation != "CreateKey" ||
		!strings.Contains(resp.PendingApproval.Description, "kms:GenerateMac") {
		t.Fatalf("a key whose policy grants its creator GenerateMac: %v %v, want a pending approval naming kms:GenerateMac", resp, err)
	}
	id := resp.PendingApproval.Id
	_, err = admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "issuer-cavv"})
	wantCode(t, "the key before approval", err, codes.NotFound)
	if ev := e.lastEvent("kms:CreateKey"); ev.Kind != "call" || ev.KeyName != "issuer-cavv" || !strings.Contains(ev.Detail, "approval "+id+" pending") {
		t.Errorf("the held creation audited as %s %q %q", ev.Kind, ev.KeyName, ev.Detail)
	}

	// A name already taken is refused at once, not held.
	e.createKey("taken", "HMAC_256", "GENERATE_VERIFY_MAC", self)
	_, err = admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "taken", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Policy: self})
	wantCode(t, "a held creation of a name taken", err, codes.AlreadyExists)
	_, err = admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "bad-spec", KeySpec: "HMAC_256", KeyUsage: "SIGN_VERIFY", Policy: self})
	wantCode(t, "a held creation of a key that cannot be", err, codes.InvalidArgument)

	// Not by its requester, not by a principal that is not an admin.
	_, err = admin.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: id})
	wantCode(t, "the requester's own approval", err, codes.FailedPrecondition)
	_, err = e.admin("acs").ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: id})
	wantCode(t, "a service's approval", err, codes.PermissionDenied)
	_, err = e.admin("acs").DenyOperation(ctx, &pb.DenyOperationRequest{ApprovalId: id})
	wantCode(t, "a service's denial", err, codes.PermissionDenied)

	ap, err := admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: id})
	if err != nil || ap.Key.GetKeyId() != "issuer-cavv" || ap.Approval.State != "APPROVED" {
		t.Fatalf("the second admin's approval: %v %v", ap, err)
	}
	if _, err := e.crypto("admin").GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "issuer-cavv", Message: []byte("m"), MacAlgorithm: "HMAC_SHA_256"}); err != nil {
		t.Errorf("the approved key's MAC for its creator: %v", err)
	}
	got, err := admin.GetKeyPolicy(ctx, &pb.GetKeyPolicyRequest{KeyId: "issuer-cavv"})
	if err != nil || got.Policy != self {
		t.Errorf("the approved key's policy: %v, want the requested one", err)
	}
	ev := e.lastEvent("keygate:ApproveOperation")
	if ev.Principal != arn("admin2") || ev.KeyName != "issuer-cavv" || !strings.Contains(ev.Detail, "approval "+id+" of CreateKey requested by "+arn("admin")) ||
		!strings.Contains(ev.Detail, "sha256:") {
		t.Errorf("the approval audited as %q by %s on %q", ev.Detail, ev.Principal, ev.KeyName)
	}
	_, err = admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: id})
	wantCode(t, "a second approval of the same creation", err, codes.FailedPrecondition)

	// Denied: nothing is made.
	req.KeyId = "denied-key"
	resp, err = admin.CreateKey(ctx, req)
	if err != nil || resp.PendingApproval == nil {
		t.Fatalf("a second self-granting creation: %v %v", resp, err)
	}
	if _, err := admin2.DenyOperation(ctx, &pb.DenyOperationRequest{ApprovalId: resp.PendingApproval.Id}); err != nil {
		t.Fatalf("the denial: %v", err)
	}
	_, err = admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "denied-key"})
	wantCode(t, "the denied key", err, codes.NotFound)

	// A policy granting its creator nothing of the key's use: made at once.
	// So is one that grants the other admin use (not its author).
	for name, doc := range map[string]string{
		"default":      "",
		"for acs":      string(policy.Default(testAccount, []string{arn("admin")})),
		"admin2 signs": policyDocFor(arn("admin"), map[string][]string{arn("admin2"): {"kms:GenerateMac"}}),
	} {
		resp, err := admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: strings.ReplaceAll(name, " ", "-"), KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Policy: doc})
		if err != nil || resp.PendingApproval != nil || resp.Key == nil {
			t.Errorf("%s: %v %v, want the key made at once", name, resp, err)
		}
	}
}

// policyDocFor lets admin administer the key (no use) and grants each
// principal the actions listed for it.
func policyDocFor(admin string, grants map[string][]string) string {
	doc := string(policy.Default(testAccount, []string{admin}))
	for p, actions := range grants {
		st := `{"Effect":"Allow","Principal":{"AWS":"` + p + `"},"Action":["` + strings.Join(actions, `","`) + `"],"Resource":"*"}`
		doc = strings.Replace(doc, `"Statement": [`, `"Statement": [`+st+",", 1)
	}
	return doc
}
