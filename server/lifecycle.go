package server

import (
	"context"

	"github.com/keygate/keygate/keys/keyring"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// The version lifecycle's handlers: decode, call the keyring's transition
// (keys/keyring/lifecycle.go), encode. The call's audit event names the
// version and holds the transition ("v2 PENDING_ACTIVATION -> ACTIVE; ...").

type transitionFunc func(ctx context.Context) (*keyring.Entry, keyring.Transition, error)

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
	md, v, t, err := as.lifecycle(ctx, req.KeyId, req.Version, func(ctx context.Context) (*keyring.Entry, keyring.Transition, error) {
		return as.s.keys.ScheduleDeletion(ctx, req.KeyId, req.Version, int(min(req.PendingWindowInDays, 1<<16)))
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
