package e2e

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

func TestKeyPolicies(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	admins := harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}}
	env.CreateKeyWithPolicy("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", harness.Policy(admins,
		harness.Statement{Sid: "AcsSignsES256", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign"},
			Condition: map[string]map[string]any{"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}}))
	env.CreateKeyWithPolicy("acs-signing-rsa", "RSA_2048", "SIGN_VERIFY", harness.Policy(admins,
		harness.Statement{Sid: "AcsSignsPS256", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign"},
			Condition: map[string]map[string]any{"StringEquals": {"kms:SigningAlgorithm": "RSASSA_PSS_SHA_256"}}}))
	env.CreateKeyWithPolicy("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", harness.Policy(admins,
		harness.Statement{Sid: "ServicesEncrypt", Principals: []string{harness.ARN("acs"), harness.ARN("3ds-server")},
			Actions: []string{"kms:Encrypt", "kms:Decrypt"}},
		harness.Statement{Sid: "NoTestTenant", Deny: true, Principals: []string{"arn:aws:iam::111122223333:root"},
			Actions: []string{"kms:*"}, Condition: map[string]map[string]any{"StringEquals": {"kms:EncryptionContext:tenant": "blocked"}}}))
	if _, err := env.Admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "no-policy-given", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"}); err != nil {
		t.Fatal(err)
	}
	acs, tds := env.Crypto("acs"), env.Crypto("3ds-server")

	t.Run("acs signs with the allowed algorithm", func(t *testing.T) {
		if _, err := acs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"}); err != nil {
			t.Fatal(err)
		}
		if _, err := acs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing-rsa", Message: []byte("m"), SigningAlgorithm: "RSASSA_PSS_SHA_256"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("another algorithm is denied", func(t *testing.T) {
		_, err := acs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing-rsa", Message: []byte("m"), SigningAlgorithm: "RSASSA_PKCS1_V1_5_SHA_256"})
		wantCode(t, err, codes.PermissionDenied)
	})
	t.Run("3ds-server may not sign, and is not told why", func(t *testing.T) {
		_, err := tds.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")})
		wantCode(t, err, codes.PermissionDenied)
		msg := status.Convert(err).Message()
		for _, leak := range []string{"role/acs", "AcsSignsES256", "Statement", "ECDSA_SHA_256", "role/admin"} {
			if strings.Contains(msg, leak) {
				t.Errorf("denial %q reveals %q", msg, leak)
			}
		}
	})
	t.Run("verify is not granted by sign", func(t *testing.T) {
		_, err := acs.Verify(ctx, &pb.VerifyRequest{KeyId: "acs-signing", Message: []byte("m"), Signature: []byte{1}})
		wantCode(t, err, codes.PermissionDenied)
	})
	t.Run("an explicit Deny on an encryption context value beats the Allow", func(t *testing.T) {
		ok := map[string]string{"tenant": "bank-a"}
		if _, err := acs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: []byte("x"), EncryptionContext: ok}); err != nil {
			t.Fatal(err)
		}
		// The context key is matched case-insensitively, as in KMS.
		blocked := map[string]string{"Tenant": "blocked"}
		_, err := acs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: []byte("x"), EncryptionContext: blocked})
		wantCode(t, err, codes.PermissionDenied)
	})
	t.Run("the default policy gives admins administration and nobody use", func(t *testing.T) {
		if _, err := env.Admin("admin").DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "no-policy-given"}); err != nil {
			t.Fatal(err)
		}
		_, err := env.Crypto("admin").GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "no-policy-given", Message: []byte("m")})
		wantCode(t, err, codes.PermissionDenied)
		_, err = acs.GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "no-policy-given", Message: []byte("m")})
		wantCode(t, err, codes.PermissionDenied)
		_, err = env.Admin("acs").DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "no-policy-given"})
		wantCode(t, err, codes.PermissionDenied)
	})
	t.Run("put-policy grants use, with the lockout check", func(t *testing.T) {
		admin := env.Admin("admin")
		useOnly := harness.Policy(harness.Statement{Sid: "Use", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:GenerateMac"}})
		_, err := admin.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "no-policy-given", Policy: useOnly})
		wantCode(t, err, codes.FailedPrecondition) // it would lock every admin out
		_, err = admin.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "no-policy-given", Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}`})
		wantCode(t, err, codes.InvalidArgument)
		// The admins administer and do not use it: a policy that gave its
		// author use would wait for a second admin (TestDutiesApart).
		administer := harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")},
			Actions: []string{"kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy"}}
		withAdmins := harness.Policy(administer, harness.Statement{Sid: "Use", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:GenerateMac"}})
		if _, err := admin.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "no-policy-given", Policy: withAdmins}); err != nil {
			t.Fatal(err)
		}
		if _, err := acs.GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "no-policy-given", Message: []byte("m")}); err != nil {
			t.Fatalf("after PutKeyPolicy: %v", err)
		}
		got, err := admin.GetKeyPolicy(ctx, &pb.GetKeyPolicyRequest{KeyId: "no-policy-given"})
		if err != nil || got.Policy != withAdmins {
			t.Fatalf("GetKeyPolicy: %v", err)
		}
	})
	t.Run("simulate explains a decision", func(t *testing.T) {
		ps := pb.NewPolicyServiceClient(env.Conn("admin"))
		r, err := ps.SimulatePolicy(ctx, &pb.SimulatePolicyRequest{KeyId: "acs-signing", PrincipalArn: harness.ARN("acs"),
			Action: "kms:Sign", SigningAlgorithm: "ECDSA_SHA_256"})
		if err != nil || !r.Allowed || r.Sid != "AcsSignsES256" || r.Explanation == "" {
			t.Fatalf("simulate allowed case: %+v %v", r, err)
		}
		r, err = ps.SimulatePolicy(ctx, &pb.SimulatePolicyRequest{KeyId: "data-key", PrincipalArn: harness.ARN("acs"),
			Action: "kms:Encrypt", EncryptionContext: map[string]string{"tenant": "blocked"}})
		if err != nil || r.Allowed || r.Effect != "Deny" || r.Sid != "NoTestTenant" {
			t.Fatalf("simulate denied case: %+v %v", r, err)
		}
	})
}
