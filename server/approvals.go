package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
	"github.com/keygate/keygate/keys/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Dual control: an operation that needs a second admin is stored as a
// pending approval (the first admin's call, audited, changes nothing); a
// different principal allowed keygate:ApproveOperation on the key
// approves it, and it runs then, exactly once (a compare-and-swap on the
// approval's state), its change and the approval's audit event committing
// together (journal.go).

// dualControlled reports whether op on k needs a second admin.
func (s *Server) dualControlled(k *keys.Key, op string) bool {
	ops := k.DualControl
	if ops == nil {
		ops = s.cfg.Lifecycle.DualControl
	}
	return slices.Contains(ops, op)
}

// holdForApproval stores req as a pending approval if op on the key needs
// a second admin, after check says it could run now. The caller has
// authorized the call. A nil approval means: go ahead.
func (s *Server) holdForApproval(ctx context.Context, c *Call, e *keyring.Entry, op, description string, req proto.Message,
	check func(*keys.Key) error) (*pb.Approval, error) {
	if !s.dualControlled(e.Key, op) {
		return nil, nil
	}
	return s.holdChecked(ctx, c, e, op, description, req, check)
}

// holdChecked stores req as a pending approval, after check says it could run now.
func (s *Server) holdChecked(ctx context.Context, c *Call, e *keyring.Entry, op, description string, req proto.Message,
	check func(*keys.Key) error) (*pb.Approval, error) {
	if err := check(e.Key); err != nil {
		return nil, err
	}
	return s.hold(ctx, c, e.Key.Name, op, description, req)
}

// hold stores req as a pending approval of op on key name.
func (s *Server) hold(ctx context.Context, c *Call, name, op, description string, req proto.Message) (*pb.Approval, error) {
	payload, err := protojson.Marshal(req)
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, "approval request could not be stored")
	}
	id := make([]byte, 12)
	rand.Read(id)
	now := s.keys.Now().UTC()
	a := &sqlstore.Approval{ID: hex.EncodeToString(id), KeyName: name, Operation: op, Description: description,
		Payload: payload, Requester: c.Principal.ARN, CreatedAt: now, ExpiresAt: now.Add(s.cfg.Lifecycle.ApprovalTTL),
		State: sqlstore.ApprovalPending}
	if err := s.keyStore.AddApproval(ctx, a); err != nil {
		return nil, err
	}
	c.Detail, c.held = "approval "+a.ID+" pending: "+description, true
	s.log.Info("operation waits for a second admin", "approval", a.ID, "key", a.KeyName, "operation", op, "principal", c.Principal.ARN)
	return approvalPB(a), nil
}

var approvalIDRE = regexp.MustCompile(`^[0-9a-f]{24}$`)

// byApproval is the key an approval is about, so the pipeline authorizes
// keygate:ApproveOperation on it.
func byApproval(ctx context.Context, s *Server, req any) (string, uint32, error) {
	id := req.(interface{ GetApprovalId() string }).GetApprovalId()
	if !approvalIDRE.MatchString(id) {
		return "", 0, kgerr.Errorf(kgerr.InvalidArgument, "approval_id must be 24 hex digits")
	}
	a, err := s.keyStore.GetApproval(ctx, id)
	if err != nil {
		return "", 0, err
	}
	if heldCreation(a.Operation) {
		return "", 0, nil // no key yet: the config's admins decide (adopt.go)
	}
	return a.KeyName, 0, nil
}

// decidable loads an approval for a decision by the caller, whom the
// pipeline authorized for keygate:ApproveOperation on its key (byApproval).
func (as *adminService) decidable(ctx context.Context, c *Call, id string) (*sqlstore.Approval, error) {
	if !approvalIDRE.MatchString(id) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "approval_id must be 24 hex digits")
	}
	a, err := as.s.keyStore.GetApproval(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.KeyName != c.KeyName && (!heldCreation(a.Operation) || c.KeyName != "") { // the pipeline authorized the key byApproval named
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "approval %s changed key", id)
	}
	c.KeyName = a.KeyName // an adoption's, for its audit event
	if a.State != sqlstore.ApprovalPending {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "approval %s is %s", id, a.State)
	}
	if now := as.s.keys.Now(); !now.Before(a.ExpiresAt) {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "approval %s expired at %s", id, a.ExpiresAt.Format(time.RFC3339))
	}
	return a, nil
}

func (as *adminService) ApproveOperation(ctx context.Context, req *pb.ApproveOperationRequest) (*pb.ApproveOperationResponse, error) {
	c := callOf(ctx)
	a, err := as.decidable(ctx, c, req.ApprovalId)
	if err != nil {
		return nil, err
	}
	if a.Requester == c.Principal.ARN {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "approval %s: the requester cannot approve their own operation", a.ID)
	}
	now := as.s.keys.Now()
	if err := as.s.keyStore.DecideApproval(ctx, a.ID, sqlstore.ApprovalPending, sqlstore.ApprovalExecuting, c.Principal.ARN, "", now); err != nil {
		return nil, err
	}
	c.Detail = "approval " + a.ID + " of " + a.Operation + " requested by " + a.Requester
	e, result, err := as.execute(ctx, c, a)
	state := sqlstore.ApprovalApproved
	if err != nil {
		state, result = sqlstore.ApprovalFailed, kgerr.Message(err)
	}
	// The operation ran (or failed) once; its record follows it.
	if derr := as.s.keyStore.DecideApproval(context.WithoutCancel(ctx), a.ID, sqlstore.ApprovalExecuting, state, c.Principal.ARN, result, now); derr != nil {
		as.s.log.Error("approval outcome not recorded", "approval", a.ID, "err", derr)
	}
	if err != nil {
		return nil, err
	}
	a.State, a.Approver, a.DecidedAt, a.Result = state, c.Principal.ARN, now, result
	c.Key = e
	return &pb.ApproveOperationResponse{Approval: approvalPB(a), Key: as.s.metadata(ctx, e)}, nil
}

func (as *adminService) DenyOperation(ctx context.Context, req *pb.DenyOperationRequest) (*pb.DenyOperationResponse, error) {
	c := callOf(ctx)
	a, err := as.decidable(ctx, c, req.ApprovalId)
	if err != nil {
		return nil, err
	}
	now := as.s.keys.Now()
	if err := as.s.keyStore.DecideApproval(ctx, a.ID, sqlstore.ApprovalPending, sqlstore.ApprovalDenied, c.Principal.ARN, "denied", now); err != nil {
		return nil, err
	}
	c.Detail = "approval " + a.ID + " of " + a.Operation + " requested by " + a.Requester + " denied"
	a.State, a.Approver, a.DecidedAt, a.Result = sqlstore.ApprovalDenied, c.Principal.ARN, now, "denied"
	return &pb.DenyOperationResponse{Approval: approvalPB(a)}, nil
}

func (as *adminService) ListApprovals(ctx context.Context, req *pb.ListApprovalsRequest) (*pb.ListApprovalsResponse, error) {
	// One key's: authorized on that key; every key's: the config's admins
	// (the pipeline, byOptionalKeyID).
	list, err := as.s.keyStore.ListApprovals(ctx, req.KeyId, req.All, 1000)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListApprovalsResponse{}
	for _, a := range list {
		resp.Approvals = append(resp.Approvals, approvalPB(a))
	}
	return resp, nil
}

// execute runs an approved operation as its requester asked for it.
func (as *adminService) execute(ctx context.Context, c *Call, a *sqlstore.Approval) (*keyring.Entry, string, error) {
	switch a.Operation {
	case "ActivateKeyVersion":
		var r pb.ActivateKeyVersionRequest
		if err := protojson.Unmarshal(a.Payload, &r); err != nil || r.KeyId != a.KeyName {
			return nil, "", kgerr.Errorf(kgerr.Internal, "approval %s holds a request that does not parse", a.ID)
		}
		e, t, err := as.s.keys.Activate(ctx, r.KeyId, r.Version)
		c.Version = t.Version
		return e, t.String(), err
	case "ScheduleKeyVersionDeletion":
		var r pb.ScheduleKeyVersionDeletionRequest
		if err := protojson.Unmarshal(a.Payload, &r); err != nil || r.KeyId != a.KeyName {
			return nil, "", kgerr.Errorf(kgerr.Internal, "approval %s holds a request that does not parse", a.ID)
		}
		e, t, err := as.s.keys.ScheduleDeletion(ctx, r.KeyId, r.Version, int(min(r.PendingWindowInDays, 1<<16)))
		c.Version = t.Version
		return e, t.String(), err
	case "PutKeyPolicy":
		var r pb.PutKeyPolicyRequest
		if err := protojson.Unmarshal(a.Payload, &r); err != nil || r.KeyId != a.KeyName {
			return nil, "", kgerr.Errorf(kgerr.Internal, "approval %s holds a request that does not parse", a.ID)
		}
		if err := as.s.checkPolicy([]byte(r.Policy), r.KeyId, r.BypassPolicyLockoutSafetyCheck, a.Requester); err != nil {
			return nil, "", err
		}
		e, err := as.s.keys.Update(ctx, r.KeyId, func(k *keys.Key) error {
			k.Policy = []byte(r.Policy)
			return nil
		})
		return e, "policy replaced", err
	case adoptOp, createOp:
		return as.executeCreation(ctx, c, a)
	}
	return nil, "", kgerr.Errorf(kgerr.Internal, "approval %s: unknown operation %q", a.ID, a.Operation)
}

func approvalPB(a *sqlstore.Approval) *pb.Approval {
	p := &pb.Approval{Id: a.ID, KeyId: a.KeyName, Operation: a.Operation, Description: a.Description, Requester: a.Requester,
		CreateTime: timestamppb.New(a.CreatedAt), ExpireTime: timestamppb.New(a.ExpiresAt), State: a.State,
		Approver: a.Approver, Result: a.Result}
	if !a.DecidedAt.IsZero() {
		p.DecideTime = timestamppb.New(a.DecidedAt)
	}
	return p
}

// dualControlOf is the operations list a key's metadata shows.
func (s *Server) dualControlOf(k *keys.Key) []string {
	if k.DualControl != nil {
		return k.DualControl
	}
	return s.cfg.Lifecycle.DualControl
}

// checkDualOps validates a per-key dual control list.
func checkDualOps(ops []string) error {
	for _, op := range ops {
		if op == adoptOp {
			return kgerr.Errorf(kgerr.InvalidArgument, "dual_control: %s concerns no existing key: set it in the server's lifecycle.dual_control", op)
		}
		if !slices.Contains(dualOps, op) {
			return kgerr.Errorf(kgerr.InvalidArgument, "dual_control: %q is not one of %s", op, strings.Join(dualOps, ", "))
		}
	}
	return nil
}
