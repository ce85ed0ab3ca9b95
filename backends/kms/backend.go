// Package kms is keygate's AWS KMS backend, on aws-sdk-go-v2. Every key
// operation is one KMS call under the caller's context, retried by the
// SDK's standard retryer (with backoff on throttling) only while that
// context allows; each call reports KMS's x-amzn-RequestId through
// backends.SetRequestID, the join key with CloudTrail.
//
// Beyond backends.Key, a *Key offers GenerateDataKey (KMS makes the data
// key, so the use is logged as such), Verify and VerifyMAC (local by
// default, remote with verify_remote), and State, the key's KMS state.
package kms

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Options are the settings New takes besides the AWS config.
type Options struct {
	// Endpoint overrides the regional endpoint (VPC endpoint, test server).
	Endpoint string
	// VerifyRemote makes Verify and VerifyMAC call KMS.
	VerifyRemote bool
}

// Backend is one KMS region reached with one set of credentials.
type Backend struct {
	name         string
	client       api
	verifyRemote bool
}

var _ backends.Backend = (*Backend)(nil)

// New builds a backend on cfg (region, credentials, retryer). Tests use it
// with static credentials and a fast retryer against a test server.
func New(name string, cfg aws.Config, opts Options) *Backend {
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		o.Retryer = noting(o.Retryer)
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
	})
	return newBackend(name, client, opts)
}

func newBackend(name string, client api, opts Options) *Backend {
	return &Backend{name: name, client: client, verifyRemote: opts.VerifyRemote}
}

// Name is the backend's configured name.
func (b *Backend) Name() string { return b.name }

// Close releases nothing: the SDK's HTTP connections are pooled and idle.
func (b *Backend) Close() error { return nil }

// CreateKey creates a KMS key of the requested spec and usage, tagged with
// keygate's label, and returns its ARN.
func (b *Backend) CreateKey(ctx context.Context, req backends.CreateRequest) (string, error) {
	if !req.Spec.Valid() || !req.Usage.Valid() || !req.Spec.Allows(req.Usage) {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "kms backend %q: key spec %q does not allow key usage %q", b.name, req.Spec, req.Usage)
	}
	if req.Label == "" {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "kms backend %q: label: must not be empty", b.name)
	}
	if req.Spec == keys.HMAC160 {
		return "", kgerr.Errorf(kgerr.FailedPrecondition, "kms backend %q: AWS KMS has no SHA-1 HMAC keys (HMAC_224 to HMAC_512); make HMAC_160 keys on a PKCS#11 backend", b.name)
	}
	ctx = withNote(ctx)
	out, err := b.client.CreateKey(ctx, &kms.CreateKeyInput{
		KeySpec:     types.KeySpec(req.Spec),
		KeyUsage:    types.KeyUsageType(req.Usage),
		Description: aws.String("keygate " + req.Label),
		Tags:        tags(req),
	})
	if err != nil {
		return "", b.fail(ctx, "CreateKey", err)
	}
	done(ctx, out.ResultMetadata)
	if out.KeyMetadata == nil || aws.ToString(out.KeyMetadata.Arn) == "" {
		return "", kgerr.Errorf(kgerr.Internal, "kms backend %q: CreateKey returned no key ARN", b.name)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// tags are keygate's own tags (the label, and the logical name and
// version it is made of) followed by the request's, in a stable order.
func tags(req backends.CreateRequest) []types.Tag {
	own := map[string]string{"keygate:label": req.Label}
	if name, version, ok := cutVersion(req.Label); ok {
		own["keygate:name"], own["keygate:version"] = name, version
	} else {
		own["keygate:name"] = req.Label
	}
	var out []types.Tag
	for i, m := range []map[string]string{own, req.Tags} {
		names := make([]string, 0, len(m))
		for k := range m {
			if _, mine := own[k]; i == 1 && mine {
				continue // keygate's own tags win
			}
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			out = append(out, types.Tag{TagKey: aws.String(k), TagValue: aws.String(m[k])})
		}
	}
	return out
}

// cutVersion splits a label "<name>/v<version>".
func cutVersion(label string) (name, version string, ok bool) {
	i := strings.LastIndex(label, "/v")
	if i <= 0 || i+2 == len(label) {
		return "", "", false
	}
	return label[:i], label[i+2:], true
}

// KeyState returns the KMS state of a key ("Enabled", "Disabled",
// "PendingDeletion", ...) without opening it, so that a key which can no
// longer be opened is still described.
func (b *Backend) KeyState(ctx context.Context, id string) (string, error) {
	meta, err := b.describe(ctx, id)
	if err != nil {
		return "", err
	}
	return string(meta.KeyState), nil
}

func (b *Backend) describe(ctx context.Context, id string) (*types.KeyMetadata, error) {
	if err := checkKeyRef(id); err != nil {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "kms backend %q: %v", b.name, err)
	}
	ctx = withNote(ctx)
	out, err := b.client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		return nil, b.fail(ctx, "DescribeKey", err)
	}
	done(ctx, out.ResultMetadata)
	if out.KeyMetadata == nil || aws.ToString(out.KeyMetadata.Arn) == "" {
		return nil, kgerr.Errorf(kgerr.Internal, "kms backend %q: DescribeKey returned no key metadata", b.name)
	}
	return out.KeyMetadata, nil
}

func (b *Backend) errorf(kind kgerr.Kind, format string, args ...any) error {
	return kgerr.Errorf(kind, "kms backend %q: %s", b.name, fmt.Sprintf(format, args...))
}
