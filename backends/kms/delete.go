package kms

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

var _ backends.Deleter = (*Backend)(nil)

// ScheduleDeletion schedules the KMS key's deletion with the same waiting
// period as keygate's, so KMS itself deletes it when keygate would.
func (b *Backend) ScheduleDeletion(ctx context.Context, id string, days int) error {
	meta, err := b.describe(ctx, id)
	if err != nil {
		return err
	}
	if meta.KeyState == types.KeyStatePendingDeletion {
		return nil // a retry after the store lost the first attempt
	}
	ctx = withNote(ctx)
	out, err := b.client.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id),
		PendingWindowInDays: aws.Int32(int32(days))})
	if err != nil {
		return b.fail(ctx, "ScheduleKeyDeletion", err)
	}
	done(ctx, out.ResultMetadata)
	return nil
}

// CancelDeletion cancels the deletion and enables the key again: KMS
// leaves a key whose deletion was cancelled disabled, and a RETIRED
// version must still decrypt and verify.
func (b *Backend) CancelDeletion(ctx context.Context, id string) error {
	meta, err := b.describe(ctx, id)
	if err != nil {
		return err
	}
	ctx = withNote(ctx)
	if meta.KeyState == types.KeyStatePendingDeletion {
		out, err := b.client.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
		if err != nil {
			return b.fail(ctx, "CancelKeyDeletion", err)
		}
		done(ctx, out.ResultMetadata)
	}
	out, err := b.client.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})
	if err != nil {
		return b.fail(ctx, "EnableKey", err)
	}
	done(ctx, out.ResultMetadata)
	return nil
}

// Destroy leaves the deletion to KMS: a key already pending deletion is
// deleted by KMS at the end of its wait; any other (the orphan of a failed
// create) is scheduled with KMS's shortest wait, 7 days.
func (b *Backend) Destroy(ctx context.Context, id string) error {
	meta, err := b.describe(ctx, id)
	switch {
	case kgerr.KindOf(err) == kgerr.NotFound:
		return nil
	case err != nil:
		return err
	case meta.KeyState == types.KeyStatePendingDeletion:
		return nil
	}
	return b.ScheduleDeletion(ctx, id, 7)
}
