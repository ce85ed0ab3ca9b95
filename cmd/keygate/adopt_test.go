package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keygate/keygate/test/harness"
)

// TestCLIAdoptUnderDualControl: `keys create --kms-key-id` by an adopter
// prints the pending approval and makes no key; a config admin approves
// it with `approvals approve ID` and the key is there.
func TestCLIAdoptUnderDualControl(t *testing.T) {
	env, srv, _ := kmsEnv(t, "adopters: ["+harness.ARN("admin2")+"]\nlifecycle: {dual_control: [AdoptKey]}\n")
	made, err := kms.NewFromConfig(srv.AWSConfig()).CreateKey(context.Background(),
		&kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	adopter, admin := newCLI(t, env, "admin2"), newCLI(t, env, "admin")
	out := adopter.ok("", "keys", "create", "acs-legacy", "--backend", "kms", "--kms-key-id", aws.ToString(made.KeyMetadata.Arn),
		"--key-spec", "ECC_NIST_P256", "--key-usage", "SIGN_VERIFY", "--policy-file", adopter.file("p.json", []byte(harness.OpenPolicy())))
	id := regexp.MustCompile(`keygate approvals approve ([0-9a-f]{24})`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "AdoptKey") || !strings.Contains(out, aws.ToString(made.KeyMetadata.Arn)) {
		t.Fatalf("keys create under dual control:\n%s", out)
	}
	admin.fails(exitNotFound, "keygate: NotFound: ", "", "keys", "describe", "acs-legacy")
	admin.ok("", "approvals", "approve", id[1])
	if out := admin.ok("", "keys", "describe", "acs-legacy"); !strings.Contains(out, aws.ToString(made.KeyMetadata.Arn)) {
		t.Fatalf("the adopted key:\n%s", out)
	}
}
