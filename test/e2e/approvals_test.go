package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

const dualControlConfig = "lifecycle: {dual_control: [ActivateKeyVersion, ScheduleKeyVersionDeletion]}\n"

// Dual control as the demo has it: activation and deletion need a second
// admin; the requester cannot approve, nobody approves twice, a denied or
// expired approval runs nothing; once approved, the deletion's waiting
// period passes on the test clock and the object is gone from the token.
func TestDualControl(t *testing.T) {
	clock := &testClock{}
	env := harness.Start(t, harness.Options{ExtraConfig: dualControlConfig, ServerOptions: server.Options{Now: clock.now}})
	env.CreateKeyWithPolicy("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", acsPolicy())
	ctx := context.Background()
	admin, admin2 := env.Admin("admin"), env.Admin("admin2")
	must(admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "acs-signing"}))

	_, err := admin.ActivateKeyVersion(ctx, &pb.ActivateKeyVersionRequest{KeyId: "acs-signing", Version: 7})
	wantRefused(t, err, codes.NotFound, "no version 7") // refused at once, nothing held
	act := must(admin.ActivateKeyVersion(ctx, &pb.ActivateKeyVersionRequest{KeyId: "acs-signing", Version: 2}))
	ap := act.PendingApproval
	if ap == nil || ap.State != "PENDING" || ap.Requester != harness.ARN("admin") || ap.Description != "activate version 2" ||
		!ap.ExpireTime.AsTime().After(ap.CreateTime.AsTime()) {
		t.Fatalf("activation under dual control answered %+v", act)
	}
	describe := func() *pb.KeyMetadata {
		return must(admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "acs-signing"})).Key
	}
	wantState(t, describe(), "ACTIVE", "PENDING_ACTIVATION")
	list := must(admin2.ListApprovals(ctx, &pb.ListApprovalsRequest{KeyId: "acs-signing"}))
	if len(list.Approvals) != 1 || list.Approvals[0].Id != ap.Id {
		t.Fatalf("approvals list: %v", list.Approvals)
	}

	_, err = admin.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id})
	wantRefused(t, err, codes.FailedPrecondition, "requester cannot approve")
	_, err = env.Admin("acs").ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id})
	wantCode(t, err, codes.PermissionDenied)
	_, err = admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: "not-an-id"})
	wantRefused(t, err, codes.InvalidArgument, "approval_id")

	// Two approvals racing: the operation runs once.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch status.Code(err) {
		case codes.OK:
			won++
		case codes.FailedPrecondition:
		default:
			t.Fatalf("a racing approval: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d approvals of one operation succeeded", won)
	}
	wantState(t, describe(), "RETIRED", "ACTIVE")
	_, err = admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id})
	wantRefused(t, err, codes.FailedPrecondition, "is APPROVED")

	// Both halves are in the audit log.
	req := events(t, env, &pb.EventFilter{KeyName: "acs-signing", Action: "keygate:ActivateKeyVersion", Result: "OK"})
	appr := events(t, env, &pb.EventFilter{KeyName: "acs-signing", Action: "keygate:ApproveOperation", Result: "OK"})
	if len(req) != 1 || !strings.Contains(req[0].Detail, "approval "+ap.Id+" pending") || req[0].Principal != harness.ARN("admin") ||
		req[0].Kind != "call" || req[0].KeyVersion != 2 {
		t.Fatalf("the request's event: %v", req)
	}
	found := false
	for _, e := range appr {
		found = found || e.Principal == harness.ARN("admin2") && strings.Contains(e.Detail, "requested by "+harness.ARN("admin")) &&
			strings.Contains(e.Detail, "v2 PENDING_ACTIVATION -> ACTIVE")
	}
	if !found {
		t.Fatalf("no approval event carrying the change: %v", appr)
	}

	schedule := func() *pb.Approval {
		t.Helper()
		r := must(admin.ScheduleKeyVersionDeletion(ctx, &pb.ScheduleKeyVersionDeletionRequest{KeyId: "acs-signing", Version: 1, PendingWindowInDays: 7}))
		if r.PendingApproval == nil {
			t.Fatalf("deletion without a second admin: %+v", r)
		}
		return r.PendingApproval
	}
	// Denied: nothing happens.
	denied := schedule()
	if _, err := admin2.DenyOperation(ctx, &pb.DenyOperationRequest{ApprovalId: denied.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: denied.Id})
	wantRefused(t, err, codes.FailedPrecondition, "is DENIED")
	// Expired: nothing happens.
	expired := schedule()
	clock.advance(25 * time.Hour)
	_, err = admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: expired.Id})
	wantRefused(t, err, codes.FailedPrecondition, "expired")
	wantState(t, describe(), "RETIRED", "ACTIVE")

	// Approved, cancelled within the wait, approved again, then destroyed
	// once the wait has passed.
	must(admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: schedule().Id}))
	wantState(t, describe(), "PENDING_DELETION", "ACTIVE")
	must(admin.CancelKeyVersionDeletion(ctx, &pb.CancelKeyVersionDeletionRequest{KeyId: "acs-signing", Version: 1}))
	wantState(t, describe(), "RETIRED", "ACTIVE")
	must(admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: schedule().Id}))
	_, err = admin.DestroyKeyVersion(ctx, &pb.DestroyKeyVersionRequest{KeyId: "acs-signing", Version: 1})
	wantRefused(t, err, codes.FailedPrecondition, "PENDING_DELETION until")
	clock.advance(7*24*time.Hour + time.Minute)
	des := must(admin.DestroyKeyVersion(ctx, &pb.DestroyKeyVersionRequest{KeyId: "acs-signing", Version: 1}))
	wantState(t, des.Key, "DESTROYED", "ACTIVE")
	b := must(env.Server.Keyring().Backend("hsm"))
	if _, err := b.Open(ctx, des.Key.Versions[0].BackendKeyId, keys.ECCNISTP256, keys.SignVerify); kgerr.KindOf(err) != kgerr.NotFound {
		t.Fatalf("the destroyed version's object is still on the token: %v", err)
	}

	// One admin cannot switch the second one off while policy changes are
	// under dual control too.
	must(admin.UpdateKeyRotation(ctx, &pb.UpdateKeyRotationRequest{KeyId: "acs-signing",
		DualControl: &pb.DualControl{Operations: []string{"ActivateKeyVersion", "ScheduleKeyVersionDeletion", "PutKeyPolicy"}}}))
	_, err = admin.UpdateKeyRotation(ctx, &pb.UpdateKeyRotationRequest{KeyId: "acs-signing", DualControl: &pb.DualControl{}})
	wantRefused(t, err, codes.FailedPrecondition, "cannot leave dual control")
	pol := must(admin.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "acs-signing", Policy: acsPolicy()}))
	if pol.PendingApproval == nil || pol.PendingApproval.Operation != "PutKeyPolicy" {
		t.Fatalf("put-policy under dual control: %+v", pol)
	}
	must(admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: pol.PendingApproval.Id}))
}
