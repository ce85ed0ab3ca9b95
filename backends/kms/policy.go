package kms

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

var _ backends.PolicyKeeper = (*Key)(nil)

// defaultPolicy is the only key policy name KMS has.
const defaultPolicy = "default"

// GetKeyPolicy returns the key's own policy document in KMS.
func (k *Key) GetKeyPolicy(ctx context.Context) ([]byte, error) {
	ctx = withNote(ctx)
	out, err := k.b.client.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(k.arn), PolicyName: aws.String(defaultPolicy)})
	if err != nil {
		return nil, k.b.fail(ctx, "GetKeyPolicy", err)
	}
	done(ctx, out.ResultMetadata)
	if out.Policy == nil {
		return nil, k.b.errorf(kgerr.Internal, "GetKeyPolicy returned no policy for %s", k.arn)
	}
	return []byte(*out.Policy), nil
}

// PutKeyPolicy replaces the key's policy in KMS. bypassLockoutCheck is
// KMS's BypassPolicyLockoutSafetyCheck: without it KMS refuses a policy
// that would lock keygate's own role out of the key.
func (k *Key) PutKeyPolicy(ctx context.Context, doc []byte, bypassLockoutCheck bool) error {
	if len(doc) == 0 || len(doc) > maxPolicy {
		return k.b.errorf(kgerr.InvalidArgument, "policy: %d bytes, KMS takes 1 to %d", len(doc), maxPolicy)
	}
	ctx = withNote(ctx)
	out, err := k.b.client.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(k.arn), PolicyName: aws.String(defaultPolicy),
		Policy: aws.String(string(doc)), BypassPolicyLockoutSafetyCheck: bypassLockoutCheck})
	if err != nil {
		return k.b.fail(ctx, "PutKeyPolicy", err)
	}
	done(ctx, out.ResultMetadata)
	return nil
}

// maxPolicy is KMS's limit on a key policy document.
const maxPolicy = 32768
