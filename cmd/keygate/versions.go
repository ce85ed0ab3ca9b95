package main

import (
	"context"
	"flag"
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// versionCommands move key versions through their lifecycle:
// PENDING_ACTIVATION -> ACTIVE -> RETIRED -> PENDING_DELETION -> DESTROYED.
var versionCommands = []*command{
	{path: "keys rotate", args: []string{"NAME"}, summary: "make a new version (primary at once for symmetric and HMAC keys; PENDING_ACTIVATION for asymmetric ones)",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				return transitionCall(ctx, e, func(c pb.KeyAdminServiceClient) (transitionResponse, error) {
					return c.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: args[0]})
				})
			}
		}},
	versionVerb("keys activate", "make a PENDING_ACTIVATION version the primary; the old primary is RETIRED",
		func(ctx context.Context, c pb.KeyAdminServiceClient, name string, v uint32) (transitionResponse, error) {
			return c.ActivateKeyVersion(ctx, &pb.ActivateKeyVersionRequest{KeyId: name, Version: v})
		}),
	versionVerb("keys retire", "stop an ACTIVE version making new outputs; what it made still verifies and decrypts",
		func(ctx context.Context, c pb.KeyAdminServiceClient, name string, v uint32) (transitionResponse, error) {
			return c.RetireKeyVersion(ctx, &pb.RetireKeyVersionRequest{KeyId: name, Version: v})
		}),
	{path: "keys schedule-deletion", args: []string{"NAME"}, summary: "start a RETIRED version's waiting period before destruction (7-30 days)",
		setup: func(fs *flag.FlagSet) action {
			version := fs.Uint("version", 0, "the version (required)")
			days := fs.Uint("pending-window-in-days", 30, "the waiting period, 7-30 days")
			return func(ctx context.Context, e *env, args []string) error {
				if *version == 0 {
					return usageErr("--version is required")
				}
				return transitionCall(ctx, e, func(c pb.KeyAdminServiceClient) (transitionResponse, error) {
					return c.ScheduleKeyVersionDeletion(ctx, &pb.ScheduleKeyVersionDeletionRequest{KeyId: args[0],
						Version: uint32(*version), PendingWindowInDays: uint32(min(*days, 1<<16))})
				})
			}
		}},
	versionVerb("keys cancel-deletion", "cancel a version's pending deletion: it is RETIRED again",
		func(ctx context.Context, c pb.KeyAdminServiceClient, name string, v uint32) (transitionResponse, error) {
			return c.CancelKeyVersionDeletion(ctx, &pb.CancelKeyVersionDeletionRequest{KeyId: name, Version: v})
		}),
	versionVerb("keys destroy", "destroy a PENDING_DELETION version whose waiting period is over (the backend key is gone)",
		func(ctx context.Context, c pb.KeyAdminServiceClient, name string, v uint32) (transitionResponse, error) {
			return c.DestroyKeyVersion(ctx, &pb.DestroyKeyVersionRequest{KeyId: name, Version: v})
		}),
}

// versionVerb is a transition of one version: NAME --version N.
func versionVerb(path, summary string, call func(context.Context, pb.KeyAdminServiceClient, string, uint32) (transitionResponse, error)) *command {
	return &command{path: path, args: []string{"NAME"}, summary: summary,
		setup: func(fs *flag.FlagSet) action {
			version := fs.Uint("version", 0, "the version (required)")
			return func(ctx context.Context, e *env, args []string) error {
				if *version == 0 {
					return usageErr("--version is required")
				}
				return transitionCall(ctx, e, func(c pb.KeyAdminServiceClient) (transitionResponse, error) {
					return call(ctx, c, args[0], uint32(*version))
				})
			}
		}}
}

// transitionResponse is any lifecycle response.
type transitionResponse interface {
	keyResponse
	proto.Message
	GetTransition() string
}

// transitionCall runs one lifecycle call and prints what changed, then the key.
func transitionCall(ctx context.Context, e *env, call func(pb.KeyAdminServiceClient) (transitionResponse, error)) error {
	c, err := e.admin()
	if err != nil {
		return err
	}
	resp, err := call(c)
	if err != nil {
		return err
	}
	if e.json() {
		return e.printJSON(resp, nil)
	}
	if p, ok := resp.(interface{ GetPendingApproval() *pb.Approval }); ok && p.GetPendingApproval() != nil {
		printApproval(e.stdout, p.GetPendingApproval())
		return nil
	}
	fmt.Fprintf(e.stdout, "%s: %s\n\n", resp.GetKey().GetKeyId(), resp.GetTransition())
	printKey(e.stdout, resp.GetKey())
	return nil
}
