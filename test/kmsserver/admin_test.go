package kmsserver_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/keygate/keygate/test/kmsserver"
)

// TestAdminOperations drives the key lifecycle, policy, alias and tag
// operations through the SDK, so the SDK's deserializers accept every answer.
func TestAdminOperations(t *testing.T) {
	srv := kmsserver.New(t)
	c := sdkClient(srv, srv.Region)
	ctx := context.Background()
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecHmac256, KeyUsage: types.KeyUsageTypeGenerateVerifyMac,
		Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("1")}}})
	if err != nil {
		t.Fatal(err)
	}
	id := out.KeyMetadata.KeyId
	if out.KeyMetadata.CreationDate == nil || len(out.KeyMetadata.MacAlgorithms) != 1 || out.KeyMetadata.KeyState != types.KeyStateEnabled {
		t.Fatalf("KeyMetadata %+v", out.KeyMetadata)
	}

	pol, err := c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: id})
	if err != nil || aws.ToString(pol.PolicyName) != "default" || aws.ToString(pol.Policy) == "" {
		t.Fatalf("GetKeyPolicy = %+v, %v", pol, err)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/keygated"},"Action":"kms:GenerateMac","Resource":"*"}]}`
	// The lockout check: this policy would not let the caller (the default
	// user keygate) change it again.
	_, err = c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(doc)})
	var lockout *types.MalformedPolicyDocumentException
	if !errors.As(err, &lockout) {
		t.Fatalf("policy locking the caller out: %v", err)
	}
	keeps := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/keygate"]},"Action":["kms:Put*"],"Resource":"*"}]}`
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(keeps)}); err != nil {
		t.Fatalf("policy keeping the caller's kms:Put*: %v", err)
	}
	if _, err := c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(doc), BypassPolicyLockoutSafetyCheck: true}); err != nil {
		t.Fatal(err)
	}
	if pol, _ = c.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: id}); aws.ToString(pol.Policy) != doc {
		t.Fatalf("policy not stored: %s", aws.ToString(pol.Policy))
	}
	_, err = c.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(`{"Statement":[{"Effect":"Maybe"}]}`)})
	var malformed *types.MalformedPolicyDocumentException
	if !errors.As(err, &malformed) {
		t.Fatalf("bad policy: %v", err)
	}

	if _, err := c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/cavv"), TargetKeyId: id}); err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/cavv"), TargetKeyId: id})
	var exists *types.AlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("duplicate alias: %v", err)
	}
	aliases, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: id})
	if err != nil || len(aliases.Aliases) != 1 || aws.ToString(aliases.Aliases[0].TargetKeyId) != aws.ToString(id) {
		t.Fatalf("ListAliases = %+v, %v", aliases, err)
	}

	if _, err := c.TagResource(ctx, &kms.TagResourceInput{KeyId: aws.String("alias/cavv"),
		Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("2")}, {TagKey: aws.String("b"), TagValue: aws.String("3")}}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: id})
	if err != nil || len(tags.Tags) != 2 || aws.ToString(tags.Tags[0].TagValue) != "2" {
		t.Fatalf("ListResourceTags = %+v, %v", tags, err)
	}

	// Lifecycle: disable, enable, schedule deletion, cancel (leaves it disabled).
	mac := func() error {
		_, err := c.GenerateMac(ctx, &kms.GenerateMacInput{KeyId: id, Message: []byte("m"), MacAlgorithm: types.MacAlgorithmSpecHmacSha256})
		return err
	}
	var disabled *types.DisabledException
	var invalidState *types.KMSInvalidStateException
	if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if err := mac(); !errors.As(err, &disabled) {
		t.Fatalf("MAC with a disabled key: %v", err)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id}); err != nil || mac() != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	del, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(7)})
	if err != nil || del.KeyState != types.KeyStatePendingDeletion || del.DeletionDate == nil {
		t.Fatalf("ScheduleKeyDeletion = %+v, %v", del, err)
	}
	if err := mac(); !errors.As(err, &invalidState) {
		t.Fatalf("MAC with a key pending deletion: %v", err)
	}
	if _, err := c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id}); !errors.As(err, &invalidState) {
		t.Fatalf("EnableKey while pending deletion: %v", err)
	}
	if _, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: id}); err != nil {
		t.Fatal(err)
	}
	if st := srv.State(aws.ToString(id)); st != kmsserver.Disabled {
		t.Fatalf("state after CancelKeyDeletion: %s, want Disabled", st)
	}
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id, PendingWindowInDays: aws.Int32(3)})
	if err == nil {
		t.Fatal("a 3-day deletion window was accepted")
	}
	for _, r := range srv.Records() {
		if r.EventName == "DisableKey" && r.ReadOnly || r.EventName == "ListAliases" && !r.ReadOnly {
			t.Errorf("%s record has readOnly %v", r.EventName, r.ReadOnly)
		}
	}
}

func TestAWSConfig(t *testing.T) {
	srv := kmsserver.New(t)
	if _, err := kms.NewFromConfig(srv.AWSConfig()).ListAliases(context.Background(), &kms.ListAliasesInput{}); err != nil {
		t.Fatal(err)
	}
	if recs := srv.Records(); len(recs) != 1 || recs[0].UserIdentity.AccessKeyID != kmsserver.TestAccessKeyID {
		t.Fatalf("records %+v", recs)
	}
}

func TestSignatureChecked(t *testing.T) {
	srv := kmsserver.New(t)
	ctx := context.Background()
	good := kms.NewFromConfig(srv.AWSConfig())
	if _, err := good.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("  two  spaces  "),
		Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("v")}}}); err != nil {
		t.Fatalf("a correctly signed request was refused: %v", err)
	}
	srv.SetCredentials("AKIAOTHER", "right-secret", "arn:aws:iam::111122223333:user/other")
	cfg := srv.AWSConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIAOTHER", "wrong-secret", "")
	_, err := kms.NewFromConfig(cfg).ListAliases(ctx, &kms.ListAliasesInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" {
		t.Fatalf("a request signed with the wrong secret: %v", err)
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIAOTHER", "right-secret", "")
	if _, err := kms.NewFromConfig(cfg).ListAliases(ctx, &kms.ListAliasesInput{}); err != nil {
		t.Fatal(err)
	}
}
