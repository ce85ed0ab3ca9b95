package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys/keyring"
	"github.com/keygate/keygate/keys/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Adoption under dual control (lifecycle.dual_control: AdoptKey): an
// adopter's CreateKey over an existing backend key is checked as it would
// run (the name is free, the backend key opens with the spec and usage)
// and held as a pending approval naming the key it will make; nothing is
// registered. As the key does not exist yet, no key policy can name its
// approvers: a different principal among the config's admins approves
// (keygate:ApproveOperation as an account action, byApproval), and the
// key is made then, as the adopter asked, its registration and the
// approval's audit event committing together.

// adoptOp is the operation name of an adoption in approvals and config;
// createOp that of a CreateKey held because its policy grants its creator
// use of the key (selfgrant.go).
const (
	adoptOp  = "AdoptKey"
	createOp = "CreateKey"
)

// heldCreation reports whether an approval's operation makes a key that
// does not exist yet: no key policy can name its approvers, so the
// config's admins decide (byApproval).
func heldCreation(op string) bool { return op == adoptOp || op == createOp }

// holdAdoption stores the adoption req asks for as a pending approval.
func (as *adminService) holdAdoption(ctx context.Context, c *Call, req *pb.CreateKeyRequest, p keyring.CreateParams) (*pb.Approval, error) {
	h, err := as.s.keys.CheckAdoption(ctx, p)
	if err != nil {
		return nil, err
	}
	held := createHeld(req, p)
	description := fmt.Sprintf("adopt backend key %s of backend %q as key %q (%s %s): %s",
		h.ID(), p.Backend, p.Name, p.Spec, p.Usage, adoptedDetail(h))
	return as.s.hold(ctx, c, p.Name, adoptOp, description, held)
}

// executeCreation makes the key an approved adoption or held creation
// asked for.
func (as *adminService) executeCreation(ctx context.Context, c *Call, a *sqlstore.Approval) (*keyring.Entry, string, error) {
	var r pb.CreateKeyRequest
	if err := protojson.Unmarshal(a.Payload, &r); err != nil || r.KeyId != a.KeyName || (a.Operation == adoptOp) != (r.BackendKeyId != "") {
		return nil, "", kgerr.Errorf(kgerr.Internal, "approval %s holds a request that does not parse", a.ID)
	}
	if err := as.s.checkPolicy([]byte(r.Policy), r.KeyId, r.BypassPolicyLockoutSafetyCheck, a.Requester); err != nil {
		return nil, "", err
	}
	if _, err := as.create(ctx, c, createParams(&r, r.Backend, []byte(r.Policy))); err != nil {
		return nil, "", err
	}
	if a.Operation == adoptOp {
		return c.Key, "adopted backend key " + c.BackendKeyID + " as version 1", nil
	}
	return c.Key, "key created for " + a.Requester, nil
}
