package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
)

// demoKeys are the keys a 3DS deployment's services need, one of each
// kind, each with a policy that lets the services that need it do their job
// and nothing more.
var demoKeys = []*pb.CreateKeyRequest{
	{KeyId: "acs-signing", KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", Description: "ACS signed content (ES256)",
		Policy: demoPolicy(use("AcsSigns", []string{"acs"}, `"kms:Sign","keygate:CreateAcsSession"`,
			`"StringEquals":{"kms:SigningAlgorithm":"ECDSA_SHA_256"}`),
			use("AnyoneVerifies", []string{"acs", "3ds-server", "ds"}, `"kms:Verify","kms:GetPublicKey"`, ""))},
	{KeyId: "acs-signing-rsa", KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY", Description: "ACS signed content (PS256)",
		Policy: demoPolicy(use("AcsSignsPS256", []string{"acs"}, `"kms:Sign","keygate:CreateAcsSession"`,
			`"StringEquals":{"kms:SigningAlgorithm":"RSASSA_PSS_SHA_256"}`),
			use("AnyoneVerifies", []string{"acs", "3ds-server", "ds"}, `"kms:Verify","kms:GetPublicKey"`, ""))},
	{KeyId: "data-key", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", Description: "3DS sensitive data at rest",
		Policy: demoPolicy(use("ServicesProtectData", []string{"acs", "3ds-server"},
			`"kms:Encrypt","kms:Decrypt","kms:GenerateDataKey"`, `"Null":{"kms:EncryptionContextKeys":"false"}`))},
	{KeyId: "av-mac", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Description: "authentication value material",
		Policy: demoPolicy(use("AcsMacs", []string{"acs"}, `"kms:GenerateMac","kms:VerifyMac"`, ""))},
	{KeyId: "ds-enc", KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT", Description: "DS key for sdkEncData (RSA-OAEP-256)",
		Policy: demoPolicy(use("DsDecrypts", []string{"ds"}, `"kms:Decrypt","keygate:DecryptSdkEncData"`, ""),
			use("AnyoneEncrypts", []string{"ds", "3ds-server"}, `"kms:GetPublicKey","kms:Encrypt"`, ""))},
	{KeyId: "3ds-sessions", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", Description: "seals 3DS challenge sessions",
		Policy: demoPolicy(use("AcsRunsChallenges", []string{"acs"}, `"keygate:DecryptChallengeRequest","keygate:EncryptChallengeResponse"`, ""))},
	{KeyId: "ds-ecdh", KeySpec: "ECC_NIST_P256", KeyUsage: "KEY_AGREEMENT", Description: "DS key for sdkEncData (ECDH-ES)",
		Policy: demoPolicy(use("DsAgrees", []string{"ds"}, `"kms:DeriveSharedSecret","keygate:DecryptSdkEncData"`, ""),
			use("AnyoneReadsPublicKey", []string{"ds", "3ds-server"}, `"kms:GetPublicKey"`, ""))},
}

// demoPolicy is a key policy: the demo admin administers the key, and the
// given statements grant use. The demo admin may also use every demo key,
// so that an operator can try the keys by hand with the CLI as the README
// shows; a production policy keeps administration and use apart.
func demoPolicy(statements ...string) string {
	statements = append(statements, use("DemoOperatorTriesKeysByHand", []string{"admin"},
		`"kms:Sign","kms:Verify","kms:GetPublicKey","kms:Encrypt","kms:Decrypt","kms:GenerateDataKey",`+
			`"kms:GenerateMac","kms:VerifyMac","kms:DeriveSharedSecret","kms:ReEncryptFrom","kms:ReEncryptTo"`, ""))
	admin := fmt.Sprintf(`{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::%[1]s:role/admin","arn:aws:iam::%[1]s:role/admin2"]},
   "Action":["kms:DescribeKey","kms:EnableKey","kms:DisableKey","kms:GetKeyPolicy","kms:PutKeyPolicy",
     "keygate:ImportCertificate","keygate:CreateKeyVersion","keygate:ActivateKeyVersion","keygate:RetireKeyVersion",
     "keygate:CreateCertificateRequest","kms:ScheduleKeyDeletion","kms:CancelKeyDeletion","keygate:DestroyKeyVersion",
     "keygate:ApproveOperation","kms:EnableKeyRotation"],
   "Resource":"*"}`, demoAccount)
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(append([]string{admin}, statements...), ",\n  ") + "]}"
}

// use is a statement allowing the demo identities actions, with an
// optional condition block body.
func use(sid string, ids []string, actions, condition string) string {
	arns := make([]string, len(ids))
	for i, id := range ids {
		arns[i] = fmt.Sprintf(`"arn:aws:iam::%s:role/%s"`, demoAccount, id)
	}
	st := fmt.Sprintf(`{"Sid":%q,"Effect":"Allow","Principal":{"AWS":[%s]},"Action":[%s],"Resource":"*"`, sid, strings.Join(arns, ","), actions)
	if condition != "" {
		st += `,"Condition":{` + condition + `}`
	}
	return st + "}"
}

// createDemoKeys creates the demo keys that do not exist yet, as the demo
// admin, through the admin API.
func createDemoKeys(ctx context.Context, dir, addr string) error {
	tls := filepath.Join(dir, "tls")
	tlsCfg, err := server.ClientTLS(filepath.Join(tls, "ca.pem"), filepath.Join(tls, "admin.pem"), filepath.Join(tls, "admin-key.pem"))
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		return err
	}
	defer conn.Close()
	// The demo policies let admin use the keys too, so each creation waits
	// for a second admin (a policy may not grant its author use alone):
	// admin2 approves, as the README's dual control shows.
	tls2, err := server.ClientTLS(filepath.Join(tls, "ca.pem"), filepath.Join(tls, "admin2.pem"), filepath.Join(tls, "admin2-key.pem"))
	if err != nil {
		return err
	}
	conn2, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(tls2)))
	if err != nil {
		return err
	}
	defer conn2.Close()
	admin, admin2 := pb.NewKeyAdminServiceClient(conn), pb.NewKeyAdminServiceClient(conn2)
	for _, req := range demoKeys {
		_, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: req.KeyId})
		if status.Code(err) == codes.NotFound {
			var resp *pb.CreateKeyResponse
			if resp, err = admin.CreateKey(ctx, req); err == nil && resp.PendingApproval != nil {
				_, err = admin2.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: resp.PendingApproval.Id})
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", req.KeyId, err)
		}
	}
	// The ACS signing keys need certificate chains for x5c: the demo CA
	// certifies the keys held in the token.
	ca, err := devca.Load(filepath.Join(tls, "ca.pem"), filepath.Join(tls, "ca-key.pem"))
	if err != nil {
		return err
	}
	crypto := pb.NewCryptoServiceClient(conn)
	for _, name := range []string{"acs-signing", "acs-signing-rsa"} {
		_, err := admin.GetCertificate(ctx, &pb.GetCertificateRequest{KeyId: name})
		if status.Code(err) != codes.NotFound {
			continue // imported by an earlier run (or another error, which the next call shows)
		}
		pub, err := crypto.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: name})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		key, err := x509.ParsePKIXPublicKey(pub.PublicKey)
		if err != nil {
			return err
		}
		cert, err := ca.Sign("demo ACS "+name, key)
		if err != nil {
			return err
		}
		chain := string(devca.CertPEM(cert)) + string(devca.CertPEM(ca.Cert))
		if _, err := admin.ImportCertificate(ctx, &pb.ImportCertificateRequest{KeyId: name, ChainPem: chain}); err != nil {
			return fmt.Errorf("%s: import certificate: %w", name, err)
		}
	}
	return nil
}
