package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/kmsserver"
)

// startWithKMS runs keygated with a KMS backend pointed at the KMS test
// server, credentials from the environment as in production.
func startWithKMS(t *testing.T) (*harness.Env, *kmsserver.Server) {
	srv := kmsserver.New(t)
	srv.SetPrincipal(kmsserver.TestAccessKeyID, keygatedRole)
	t.Setenv("AWS_ACCESS_KEY_ID", kmsserver.TestAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", kmsserver.TestSecretAccessKey)
	t.Setenv("AWS_REGION", srv.Region)
	// Adopting an existing KMS key is granted by name (keygate:AdoptKey).
	env := harness.Start(t, harness.Options{ExtraConfig: "adopters: [" + harness.ARN("admin") + "]\n", ExtraBackends: `
  - name: kms
    type: kms
    config: {region: ` + srv.Region + `, endpoint: "` + srv.URL + `"}
`})
	return env, srv
}

// keygatedRole is keygated's own AWS identity. A policy pushed to KMS must
// let it keep managing the key, or KMS's lockout check refuses it.
const keygatedRole = "arn:aws:iam::111122223333:role/keygated"

func kmsPolicy() string {
	return harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: harness.AdminActions},
		harness.Statement{Sid: "KeygatedUsesAndManagesTheKey", Principals: []string{keygatedRole}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "Services", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign", "kms:GetPublicKey", "kms:GenerateMac"}},
	)
}

func TestKMSBackendEndToEnd(t *testing.T) {
	env, srv := startWithKMS(t)
	ctx := context.Background()
	admin := env.Admin("admin")
	created, err := admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "acs-signing-kms", KeySpec: "ECC_NIST_P256",
		KeyUsage: "SIGN_VERIFY", Backend: "kms", Policy: kmsPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	arn := created.Key.Versions[0].BackendKeyId
	if !strings.HasPrefix(arn, "arn:aws:kms:") || created.Key.Versions[0].BackendState != "Enabled" {
		t.Fatalf("KMS key version: %+v", created.Key.Versions[0])
	}

	// Sign through keygate, verify with openssl against GetPublicKey.
	msg := []byte("acs signed content")
	sig, err := env.Crypto("acs").Sign(ctx, &pb.SignRequest{KeyId: "acs-signing-kms", Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := env.Crypto("acs").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "acs-signing-kms"})
	if err != nil {
		t.Fatal(err)
	}
	opensslVerify(t, pub.PublicKey, sig.Signature, msg)

	// The audit record names the KMS request id, which is CloudTrail's requestID.
	evs := events(t, env, &pb.EventFilter{Action: "kms:Sign"})
	if len(evs) != 1 || evs[0].BackendRequestId == "" || evs[0].BackendKeyId != arn {
		t.Fatalf("audited Sign: %+v", evs)
	}
	found := false
	for _, r := range srv.Records() {
		if r.EventName == "Sign" && r.RequestID == evs[0].BackendRequestId {
			found = true
		}
	}
	if !found {
		t.Fatalf("no CloudTrail Sign record with requestID %s", evs[0].BackendRequestId)
	}

	t.Run("policy push and diff against KMS", func(t *testing.T) {
		ps := pb.NewPolicyServiceClient(env.Conn("admin"))
		if _, err := ps.PushKeyPolicy(ctx, &pb.PushKeyPolicyRequest{KeyId: "acs-signing-kms"}); err != nil {
			t.Fatal(err)
		}
		d, err := ps.DiffKeyPolicy(ctx, &pb.DiffKeyPolicyRequest{KeyId: "acs-signing-kms"})
		if err != nil || len(d.Versions) != 1 || !d.Versions[0].InSync {
			t.Fatalf("diff after push: %+v %v", d, err)
		}
		// Someone changes the policy in KMS behind keygate's back.
		other := harness.Policy(harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}},
			harness.Statement{Sid: "KeygatedUsesAndManagesTheKey", Principals: []string{keygatedRole}, Actions: []string{"kms:*"}})
		client := kms.NewFromConfig(srv.AWSConfig(), func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		if _, err := client.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(arn), Policy: aws.String(other), PolicyName: aws.String("default")}); err != nil {
			t.Fatal(err)
		}
		d, err = ps.DiffKeyPolicy(ctx, &pb.DiffKeyPolicyRequest{KeyId: "acs-signing-kms"})
		if err != nil || d.Versions[0].InSync || len(d.Versions[0].Differences) == 0 {
			t.Fatalf("diff after an outside change: %+v %v", d, err)
		}
		_, err = ps.DiffKeyPolicy(ctx, &pb.DiffKeyPolicyRequest{KeyId: "audit-checkpoint"})
		wantCode(t, err, codes.FailedPrecondition) // a PKCS#11 key has no policy of its own
	})

	t.Run("adopt an existing KMS key by alias", func(t *testing.T) {
		client := kms.NewFromConfig(srv.AWSConfig(), func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		out, err := client.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/issuer-av"), TargetKeyId: out.KeyMetadata.KeyId}); err != nil {
			t.Fatal(err)
		}
		got, err := admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "issuer-av", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC",
			Backend: "kms", BackendKeyId: "alias/issuer-av", Policy: kmsPolicy()})
		if err != nil {
			t.Fatal(err)
		}
		if got.Key.Versions[0].BackendKeyId != *out.KeyMetadata.Arn {
			t.Fatalf("adopted key names %s, want the key's ARN %s", got.Key.Versions[0].BackendKeyId, *out.KeyMetadata.Arn)
		}
		if _, err := env.Crypto("acs").GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "issuer-av", Message: []byte("m")}); err != nil {
			t.Fatal(err)
		}
		// Adopting with the wrong spec is refused before anything is stored.
		_, err = admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "wrong-spec", KeySpec: "HMAC_512", KeyUsage: "GENERATE_VERIFY_MAC",
			Backend: "kms", BackendKeyId: "alias/issuer-av", Policy: kmsPolicy()})
		wantCode(t, err, codes.FailedPrecondition)
	})

	t.Run("a key disabled in KMS is FailedPrecondition", func(t *testing.T) {
		client := kms.NewFromConfig(srv.AWSConfig(), func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
		if _, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
		_, err := env.Crypto("acs").Sign(ctx, &pb.SignRequest{KeyId: "acs-signing-kms", Message: msg})
		wantCode(t, err, codes.FailedPrecondition)
		d, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "acs-signing-kms"})
		if err != nil || d.Key.Versions[0].BackendState != "Disabled" {
			t.Fatalf("DescribeKey after disabling in KMS: %+v %v", d, err)
		}
	})

	t.Run("throttling that outlasts retries is ResourceExhausted", func(t *testing.T) {
		_, err := admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "mac-in-kms", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Backend: "kms", Policy: kmsPolicy()})
		if err != nil {
			t.Fatal(err)
		}
		srv.Throttle("GenerateMac", 100)
		_, err = env.Crypto("acs").GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "mac-in-kms", Message: []byte("m")})
		wantCode(t, err, codes.ResourceExhausted)
		srv.ClearFaults()
		srv.FailInternal("GenerateMac", 100)
		_, err = env.Crypto("acs").GenerateMac(ctx, &pb.GenerateMacRequest{KeyId: "mac-in-kms", Message: []byte("m")})
		wantCode(t, err, codes.Unavailable)
		srv.ClearFaults()
	})
}
