package main

import (
	"context"
	"fmt"
	"path/filepath"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
)

// demoKeys are the keys a 3DS deployment's services need, one of each kind.
var demoKeys = []*pb.CreateKeyRequest{
	{KeyId: "acs-signing", KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", Description: "ACS signed content (ES256)"},
	{KeyId: "acs-signing-rsa", KeySpec: "RSA_2048", KeyUsage: "SIGN_VERIFY", Description: "ACS signed content (PS256)"},
	{KeyId: "data-key", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", Description: "3DS sensitive data at rest"},
	{KeyId: "av-mac", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Description: "authentication value material"},
	{KeyId: "ds-enc", KeySpec: "RSA_2048", KeyUsage: "ENCRYPT_DECRYPT", Description: "DS key for sdkEncData (RSA-OAEP-256)"},
	{KeyId: "ds-ecdh", KeySpec: "ECC_NIST_P256", KeyUsage: "KEY_AGREEMENT", Description: "DS key for sdkEncData (ECDH-ES)"},
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
	admin := pb.NewKeyAdminServiceClient(conn)
	for _, req := range demoKeys {
		_, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: req.KeyId})
		if status.Code(err) == codes.NotFound {
			_, err = admin.CreateKey(ctx, req)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", req.KeyId, err)
		}
	}
	return nil
}
