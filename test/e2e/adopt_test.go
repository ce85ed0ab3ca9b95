package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"
	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// putAES puts an AES-256 key on the harness's token the way an operator
// would load one from a file (C_CreateObject with its value), and returns
// its CKA_ID in hex.
func putAES(t *testing.T, env *harness.Env, extractable bool) string {
	t.Helper()
	lib := p11.New(env.Token.Module) // the module keygated has loaded: shared, never finalised here
	if err := lib.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	slots, err := lib.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		if info, err := lib.GetTokenInfo(slot); err != nil || strings.TrimRight(info.Label, " ") != env.Token.Label {
			continue
		}
		s, err := lib.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer lib.CloseSession(s)
		if err := lib.Login(s, p11.CKU_USER, env.Token.PIN); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
			t.Fatal(err)
		}
		id, value := make([]byte, 16), make([]byte, 32)
		rand.Read(id)
		rand.Read(value)
		_, err = lib.CreateObject(s, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_PRIVATE, true), p11.NewAttribute(p11.CKA_ID, id),
			p11.NewAttribute(p11.CKA_ENCRYPT, true), p11.NewAttribute(p11.CKA_DECRYPT, true), p11.NewAttribute(p11.CKA_VALUE, value),
			p11.NewAttribute(p11.CKA_SENSITIVE, !extractable), p11.NewAttribute(p11.CKA_EXTRACTABLE, extractable),
		})
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(id)
	}
	t.Fatalf("no token %s", env.Token.Label)
	return ""
}

// TestAdoptImportedKey: an imported key is adopted with its provenance in
// the audit record (not local, and once readable: it was loaded from a
// value, not generated in the token); an extractable one is refused.
func TestAdoptImportedKey(t *testing.T) {
	// Adopting a backend key needs keygate:AdoptKey: the config's adopters.
	env := harness.Start(t, harness.Options{ExtraConfig: "adopters: [" + harness.ARN("admin") + "]\n"})
	ctx := context.Background()
	admin := env.Admin("admin")
	_, err := admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "pan-legacy", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT",
		BackendKeyId: putAES(t, env, false)}) // the default policy: admin adopts, grants itself no use
	if err != nil {
		t.Fatalf("adopt an imported, sensitive key: %v", err)
	}
	evs := events(t, env, &pb.EventFilter{KeyName: "pan-legacy", Action: "keygate:AdoptKey", Kind: "key.created"})
	if len(evs) != 1 || !strings.Contains(evs[0].Detail, "adopted backend key: CKA_LOCAL=false CKA_NEVER_EXTRACTABLE=false CKA_ALWAYS_SENSITIVE=false") {
		t.Fatalf("CreateKey event of the adopted key: %v", evs)
	}
	_, err = admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "pan-leaky", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT",
		BackendKeyId: putAES(t, env, true)})
	wantCode(t, err, codes.FailedPrecondition)
}

// TestAdoptUnderDualControl: with lifecycle.dual_control AdoptKey, an
// adopter's adoption is checked at once (a leaky key or a taken name is
// refused, nothing held), then waits as a pending approval and makes no
// key; the requester cannot approve it, nor can a principal that is not
// one of the config's admins; a different admin's approval makes the key,
// exactly once, and both halves are audit events on the key; a denied
// adoption makes nothing.
func TestAdoptUnderDualControl(t *testing.T) {
	env := harness.Start(t, harness.Options{Admins: []string{harness.ARN("admin")}, // admin2 adopts but is no admin
		ExtraConfig: "adopters: [" + harness.ARN("admin") + ", " + harness.ARN("admin2") + "]\n" +
			"lifecycle: {dual_control: [AdoptKey]}\n"})
	ctx := context.Background()
	admin, admin2 := env.Admin("admin"), env.Admin("admin2")
	adopt := func(c pb.KeyAdminServiceClient, name, backendKey string) (*pb.CreateKeyResponse, error) {
		return c.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: name, KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT",
			BackendKeyId: backendKey, Policy: harness.OpenPolicy()})
	}
	pending := func() int {
		return len(must(admin.ListApprovals(ctx, &pb.ListApprovalsRequest{})).Approvals)
	}
	_, err := adopt(admin2, "pan-leaky", putAES(t, env, true))
	wantCode(t, err, codes.FailedPrecondition)
	must(admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "taken", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT"})) // the default policy: not held
	_, err = adopt(admin2, "taken", putAES(t, env, false))
	wantCode(t, err, codes.AlreadyExists)
	if n := pending(); n != 0 {
		t.Fatalf("refused adoptions left %d approvals", n)
	}

	resp := must(adopt(admin2, "pan-legacy", putAES(t, env, false)))
	ap := resp.PendingApproval
	if resp.Key != nil || ap == nil || ap.Operation != "AdoptKey" || ap.KeyId != "pan-legacy" || ap.Requester != harness.ARN("admin2") ||
		!strings.Contains(ap.Description, "adopt backend key") || !strings.Contains(ap.Description, "CKA_LOCAL=false") {
		t.Fatalf("adoption under dual control answered %+v", resp)
	}
	_, err = admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "pan-legacy"})
	wantCode(t, err, codes.NotFound)
	_, err = admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id})
	wantCode(t, err, codes.PermissionDenied) // admin2 adopts, but is not one of the config's admins
	_, err = env.Admin("acs").ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id})
	wantCode(t, err, codes.PermissionDenied)

	done := must(admin.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id}))
	if done.Approval.State != "APPROVED" || done.Key.GetKeyId() != "pan-legacy" || done.Approval.Approver != harness.ARN("admin") {
		t.Fatalf("approve: %+v", done)
	}
	_, err = admin.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id})
	wantRefused(t, err, codes.FailedPrecondition, "APPROVED")
	ct := must(env.Crypto("acs").Encrypt(ctx, &pb.EncryptRequest{KeyId: "pan-legacy", Plaintext: []byte("4111111111111111")}))
	if pt := must(env.Crypto("acs").Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: ct.CiphertextBlob})); string(pt.Plaintext) != "4111111111111111" {
		t.Fatal("the adopted key does not decrypt what it encrypted")
	}
	held := events(t, env, &pb.EventFilter{KeyName: "pan-legacy", Action: "keygate:AdoptKey"})
	var approved []*pb.AuditEvent // the second approve's refusal is audited too
	for _, e := range events(t, env, &pb.EventFilter{KeyName: "pan-legacy", Action: "keygate:ApproveOperation"}) {
		if e.Result == "OK" {
			approved = append(approved, e)
		}
	}
	if len(held) != 1 || held[0].Principal != harness.ARN("admin2") || !strings.Contains(held[0].Detail, "approval "+ap.Id+" pending") {
		t.Fatalf("the adopter's half in the audit log: %v", held)
	}
	if len(approved) != 1 || approved[0].Principal != harness.ARN("admin") || !strings.Contains(approved[0].Detail, "of AdoptKey requested by "+harness.ARN("admin2")) ||
		!strings.Contains(approved[0].Detail, "CKA_LOCAL=false") {
		t.Fatalf("the approver's half in the audit log: %v", approved)
	}

	// The requester cannot approve; a denial makes nothing.
	ap = must(adopt(admin, "pan-other", putAES(t, env, false))).PendingApproval
	_, err = admin.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: ap.Id})
	wantRefused(t, err, codes.FailedPrecondition, "requester cannot approve")
	must(admin.DenyOperation(ctx, &pb.DenyOperationRequest{ApprovalId: ap.Id}))
	_, err = admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "pan-other"})
	wantCode(t, err, codes.NotFound)
}
