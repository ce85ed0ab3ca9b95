package e2e

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// GetCertificate is audited and authorized as keygate:GetCertificate
// (issue 16, finding 8); a policy written when it was kms:DescribeKey
// still grants it, and a Deny of either action denies it.
func TestGetCertificateIsItsOwnAction(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	env.CreateKeyWithPolicy("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "OlderReaders", Principals: []string{harness.ARN("ds"), harness.ARN("acs")}, Actions: []string{"kms:DescribeKey"}},
		harness.Statement{Sid: "CertReaders", Principals: []string{harness.ARN("3ds-server")}, Actions: []string{"keygate:GetCertificate"}},
		harness.Statement{Sid: "NoCertForAcs", Deny: true, Principals: []string{harness.ARN("acs")}, Actions: []string{"keygate:GetCertificate"}}))
	get := func(id string) error {
		_, err := env.Admin(id).GetCertificate(ctx, &pb.GetCertificateRequest{KeyId: "acs-signing"})
		return err
	}
	wantCode(t, get("ds"), codes.NotFound)         // allowed by kms:DescribeKey; no chain imported
	wantCode(t, get("3ds-server"), codes.NotFound) // allowed by keygate:GetCertificate
	wantCode(t, get("acs"), codes.PermissionDenied)
	_, err := env.Admin("3ds-server").DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "acs-signing"})
	wantCode(t, err, codes.PermissionDenied) // the new action grants no more than itself

	evs := events(t, env, &pb.EventFilter{KeyName: "acs-signing", Action: "keygate:GetCertificate"})
	want := map[string]string{harness.ARN("ds"): "Allow OlderReaders", harness.ARN("3ds-server"): "Allow CertReaders", harness.ARN("acs"): "Deny NoCertForAcs"}
	if len(evs) != len(want) {
		t.Fatalf("%d GetCertificate events, want %d: %v", len(evs), len(want), evs)
	}
	for _, e := range evs {
		if got := e.Decision + " " + e.Sid; got != want[e.Principal] {
			t.Errorf("%s: %s, want %s", e.Principal, got, want[e.Principal])
		}
	}
}
