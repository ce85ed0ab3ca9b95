package kms

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/test/kmsserver"
)

func TestOpenAdoptsByIDARNAndAlias(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	out, err := f.raw.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY"})
	if err != nil {
		t.Fatal(err)
	}
	arn, id := aws.ToString(out.KeyMetadata.Arn), aws.ToString(out.KeyMetadata.KeyId)
	if _, err := f.raw.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/acs-signing"), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{id, arn, "alias/acs-signing", strings.Replace(arn, "key/"+id, "alias/acs-signing", 1)} {
		k, err := f.b.Open(ctx, ref, keys.ECCNISTP256, keys.SignVerify)
		if err != nil {
			t.Fatalf("Open(%s): %v", ref, err)
		}
		if k.ID() != arn || k.Public() == nil {
			t.Fatalf("Open(%s): ID %s, want %s, public %v", ref, k.ID(), arn, k.Public())
		}
	}
	_, err = f.b.Open(ctx, arn, keys.ECCNISTP256, keys.KeyAgreement)
	wantKind(t, err, kgerr.FailedPrecondition)
	_, err = f.b.Open(ctx, arn, keys.RSA2048, keys.SignVerify)
	wantKind(t, err, kgerr.FailedPrecondition)
	_, err = f.b.Open(ctx, "alias/nope", keys.ECCNISTP256, keys.SignVerify)
	wantKind(t, err, kgerr.NotFound)
	_, err = f.b.Open(ctx, "00000000-0000-4000-8000-000000000000", keys.ECCNISTP256, keys.SignVerify)
	wantKind(t, err, kgerr.NotFound)
	for _, bad := range []string{"", "not a key", "alias/", "arn:aws:kms:eu-west-1:1234:key/x"} {
		_, err = f.b.Open(ctx, bad, keys.ECCNISTP256, keys.SignVerify)
		wantKind(t, err, kgerr.InvalidArgument)
	}
}

func TestCreateKeyTags(t *testing.T) {
	f := newFixture(t, Options{})
	ctx, info := withInfo()
	arn, err := f.b.CreateKey(ctx, backends.CreateRequest{Spec: keys.HMAC256, Usage: keys.GenerateVerifyMac,
		Label: "issuer-cavv/v3", Tags: map[string]string{"team": "acs", "keygate:label": "spoofed"}})
	if err != nil {
		t.Fatal(err)
	}
	if recs := records(f.srv, "CreateKey"); len(recs) != 1 || recs[0].RequestID != info.RequestID || recs[0].Resources[0].ARN != arn {
		t.Fatalf("CreateKey record %+v does not match request id %q / ARN %s", recs, info.RequestID, arn)
	}
	out, err := f.raw.ListResourceTags(context.Background(), &kms.ListResourceTagsInput{KeyId: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, tg := range out.Tags {
		got[aws.ToString(tg.TagKey)] = aws.ToString(tg.TagValue)
	}
	want := map[string]string{"keygate:label": "issuer-cavv/v3", "keygate:name": "issuer-cavv", "keygate:version": "3", "team": "acs"}
	if len(got) != len(want) {
		t.Fatalf("tags %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("tag %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	_, err = f.b.CreateKey(context.Background(), backends.CreateRequest{Spec: keys.HMAC256, Usage: keys.SignVerify, Label: "x/v1"})
	wantKind(t, err, kgerr.InvalidArgument)
}

// lyingClient answers every Sign for another key: the backend must notice.
type lyingClient struct{ api }

func (c lyingClient) Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error) {
	out, err := c.api.Sign(ctx, in, opts...)
	if out != nil {
		out.KeyId = aws.String(aws.ToString(out.KeyId) + "-other")
	}
	return out, err
}

func TestAnswerForAnotherKeyIsInternal(t *testing.T) {
	f := newFixture(t, Options{})
	k := f.create(t, keys.ECCNISTP256, keys.SignVerify)
	lying := newBackend("kms", lyingClient{f.b.client}, Options{})
	h, err := lying.Open(context.Background(), k.ID(), keys.ECCNISTP256, keys.SignVerify)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Sign(context.Background(), keys.ECDSASHA256, digest)
	wantKind(t, err, kgerr.Internal)
}

func TestRegistryConfig(t *testing.T) {
	srv := kmsserver.New(t)
	t.Setenv("AWS_ACCESS_KEY_ID", testAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	ctx := context.Background()
	node := func(doc string) *yaml.Node {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
			t.Fatal(err)
		}
		return n.Content[0]
	}
	b, err := backends.Open(ctx, "kms", "kms", node("region: "+srv.Region+"\nendpoint: "+srv.URL+"\nmax_attempts: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	arn, err := b.CreateKey(ctx, backends.CreateRequest{Spec: keys.ECCNISTP256, Usage: keys.SignVerify, Label: "acs/v1"})
	if err != nil {
		t.Fatal(err)
	}
	k, err := b.Open(ctx, arn, keys.ECCNISTP256, keys.SignVerify)
	if err != nil {
		t.Fatal(err)
	}
	srv.Throttle("Sign", 2)
	_, err = k.Sign(ctx, keys.ECDSASHA256, digest)
	wantKind(t, err, kgerr.ResourceExhausted) // max_attempts: 2 took effect
	if recs := srv.Records(); recs[0].UserIdentity.AccessKeyID != testAccessKey {
		t.Fatalf("credentials did not come from the environment: %+v", recs[0].UserIdentity)
	}

	for _, bad := range []string{"regoin: x\n", "region: x\nmax_attempts: 99\n", "region: x\nendpoint: ftp://x\n"} {
		if _, err := backends.Open(ctx, "kms", "kms", node(bad)); err == nil {
			t.Errorf("config %q accepted", bad)
		}
	}
	// Every problem is reported at once.
	err = Config{Endpoint: "::", MaxAttempts: -1}.Validate()
	if err == nil || !strings.Contains(err.Error(), "endpoint") || !strings.Contains(err.Error(), "max_attempts") {
		t.Fatalf("Validate = %v, want both problems", err)
	}
}
