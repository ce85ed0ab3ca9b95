package server

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/keygate/keygate/keys"

	"github.com/keygate/keygate/keys/keyring"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// The version lifecycle's handlers: decode, call the keyring's transition
// (keys/keyring/lifecycle.go), encode. The call's audit event names the
// version and holds the transition ("v2 PENDING_ACTIVATION -> ACTIVE; ...").

type transitionFunc func(ctx context.Context) (*keyring.Entry, keyring.Transition, error)

// hold stores op on the key (which the pipeline resolved and authorized)
// as a pending approval if it needs a second admin (approvals.go).
func (as *adminService) hold(ctx context.Context, op, description string, req proto.Message,
	check func(*keys.Key) error) (*pb.Approval, error) {
	c := callOf(ctx)
	return as.s.holdForApproval(ctx, c, c.Key, op, description, req, check)
}

// lifecycle runs a transition on key name (version n, 0 for a new one),
// which the pipeline has authorized, and describes the result.
func (as *adminService) lifecycle(ctx context.Context, name string, n uint32, run transitionFunc) (*pb.KeyMetadata, uint32, string, error) {
	c := callOf(ctx)
	c.Version = n
	e, t, err := run(ctx)
	c.Version, c.BackendKeyID, c.Detail = t.Version, t.BackendKeyID, t.String()
	if err != nil {
		return nil, 0, "", err
	}
	c.Key = e
	as.s.log.Info("key version changed", "key", name, "version", t.Version, "transition", c.Detail, "principal", c.Principal.ARN)
	return as.s.metadata(ctx, e), t.Version, c.Detail, nil
}

func (as *adminService) CreateKeyVersion(ctx context.Context, req *pb.CreateKeyVersionRequest) (*pb.CreateKeyVersionResponse, error) {
	md, v, t, err := as.lifecycle(ctx, req.KeyId, 0, func(ctx context.Context) (*keyring.Entry, keyring.Transition, error) {
		return as.s.keys.Rotate(ctx, req.KeyId)
	})
	return &pb.CreateKeyVersionResponse{Key: md, Version: v, Transition: t}, err
}

func (as *adminService) ActivateKeyVersion(ctx context.Context, req *pb.ActivateKeyVersionRequest) (*pb.ActivateKeyVersionResponse, error) {
	callOf(ctx).Version = req.Version
	ap, err := as.hold(ctx, "ActivateKeyVersion", fmt.Sprintf("activate version %d", req.Version), req,
		func(k *keys.Key) error { return keyring.CheckActivate(k, req.Version) })
	if ap != nil || err != nil {
		return &pb.ActivateKeyVersionResponse{Version: req.Version, PendingApproval: ap}, err
	}
	md, v, t, err := as.lifecycle(ctx, req.KeyId, req.Version, func(ctx context.Context) (*keyring.Entry, keyring.Transition, error) {
		return as.s.keys.Activate(ctx, req.KeyId, req.Version)
	})
	return &pb.ActivateKeyVersionResponse{Key: md, Version: v, Transition: t}, err
}

func (as *adminService) RetireKeyVersion(ctx context.Context, req *pb.RetireKeyVersionRequest) (*pb.RetireKeyVersionResponse, error) {
	md, v, t, err := as.lifecycle(ctx, req.KeyId, req.Version, func(ctx context.Context) (*keyring.Entry, keyring.Transition, error) {
		return as.s.keys.Retire(ctx, req.KeyId, req.Version)
	})
	return &pb.RetireKeyVersionResponse{Key: md, Version: v, Transition: t}, err
}

func (as *adminService) ScheduleKeyVersionDeletion(ctx context.Context, req *pb.ScheduleKeyVersionDeletionRequest) (*pb.ScheduleKeyVersionDeletionResponse, error) {
	days, shown := int(min(req.PendingWindowInDays, 1<<16)), int(req.PendingWindowInDays)
	if shown == 0 {
		shown = keyring.DefaultDeletionDays
	}
	callOf(ctx).Version = req.Version
	ap, err := as.hold(ctx, "ScheduleKeyVersionDeletion",
		fmt.Sprintf("schedule the deletion of version %d (%d days)", req.Version, shown), req,
		func(k *keys.Key) error { return keyring.CheckScheduleDeletion(k, req.Version, days) })
	if ap != nil || err != nil {
		return &pb.ScheduleKeyVersionDeletionResponse{Version: req.Version, PendingApproval: ap}, err
	}
	md, v, t, err := as.lifecycle(ctx, req.KeyId, req.Version, func(ctx context.Context) (*keyring.Entry, keyring.Transition, error) {
		return as.s.keys.ScheduleDeletion(ctx, req.KeyId, req.Version, days)
	})
	return &pb.ScheduleKeyVersionDeletionResponse{Key: md, Version: v, Transition: t}, err
}

func (as *adminService) CancelKeyVersionDeletion(ctx context.Context, req *pb.CancelKeyVersionDeletionRequest) (*pb.CancelKeyVersionDeletionResponse, error) {
	md, v, t, err := as.lifecycle(ctx, req.KeyId, req.Version, func(ctx context.Context) (*keyring.Entry, keyring.Transition, error) {
		return as.s.keys.CancelDeletion(ctx, req.KeyId, req.Version)
	})
	return &pb.CancelKeyVersionDeletionResponse{Key: md, Version: v, Transition: t}, err
}

func (as *adminService) DestroyKeyVersion(ctx context.Context, req *pb.DestroyKeyVersionRequest) (*pb.DestroyKeyVersionResponse, error) {
	md, v, t, err := as.lifecycle(ctx, req.KeyId, req.Version, func(ctx context.Context) (*keyring.Entry, keyring.Transition, error) {
		return as.s.keys.Destroy(ctx, req.KeyId, req.Version)
	})
	return &pb.DestroyKeyVersionResponse{Key: md, Version: v, Transition: t}, err
}
