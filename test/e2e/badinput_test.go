package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

func TestBadInput(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CreateKey("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	ctx := context.Background()
	cs := env.Crypto("acs")

	cases := []struct {
		name string
		call func() error
		code codes.Code
		says string // the message must name this
	}{
		{"unknown key", func() error {
			_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "no-such-key", Message: []byte("m")})
			return err
		}, codes.NotFound, "no-such-key"},
		{"encrypt with a SIGN_VERIFY key", func() error {
			_, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "acs-signing", Plaintext: []byte("m")})
			return err
		}, codes.FailedPrecondition, "SIGN_VERIFY"},
		{"sign with an ENCRYPT_DECRYPT key", func() error {
			_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "data-key", Message: []byte("m")})
			return err
		}, codes.FailedPrecondition, "ENCRYPT_DECRYPT"},
		{"RAW message over 4096 bytes", func() error {
			_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: bytes.Repeat([]byte("a"), 4097)})
			return err
		}, codes.InvalidArgument, "4096"},
		{"digest of the wrong length", func() error {
			_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: make([]byte, 31), MessageType: "DIGEST"})
			return err
		}, codes.InvalidArgument, "32-byte digest"},
		{"algorithm of another key type", func() error {
			_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m"), SigningAlgorithm: "RSASSA_PSS_SHA_256"})
			return err
		}, codes.InvalidArgument, "signing_algorithm"},
		{"unknown message type", func() error {
			_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m"), MessageType: "HASH"})
			return err
		}, codes.InvalidArgument, "message_type"},
		{"empty key id", func() error {
			_, err := cs.Sign(ctx, &pb.SignRequest{Message: []byte("m")})
			return err
		}, codes.InvalidArgument, "key_id"},
		{"plaintext over 4096 bytes", func() error {
			_, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: make([]byte, 4097)})
			return err
		}, codes.InvalidArgument, "plaintext"},
		{"not a keygate ciphertext", func() error {
			_, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: []byte("garbage")})
			return err
		}, codes.InvalidArgument, "ciphertext_blob"},
		{"admin call from a service", func() error {
			_, err := env.Admin("acs").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})
			return err
		}, codes.PermissionDenied, "kms:CreateKey"},
		{"identity with no principal mapping", func() error {
			_, err := env.Crypto("stranger").Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")})
			return err
		}, codes.PermissionDenied, "not mapped"},
		{"bad key spec", func() error {
			_, err := env.Admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "x", KeySpec: "ECC_SECG_P256K2", KeyUsage: "SIGN_VERIFY"})
			return err
		}, codes.InvalidArgument, "key_spec"},
		{"usage the spec cannot have", func() error {
			_, err := env.Admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "x", KeySpec: "HMAC_256", KeyUsage: "SIGN_VERIFY"})
			return err
		}, codes.InvalidArgument, "not allowed"},
		{"duplicate key", func() error {
			_, err := env.Admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "data-key", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT"})
			return err
		}, codes.AlreadyExists, "data-key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			if status.Code(err) != c.code || !strings.Contains(status.Convert(err).Message(), c.says) {
				t.Fatalf("got %v; want %v naming %q", err, c.code, c.says)
			}
		})
	}
}

func TestDisabledKey(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	ctx := context.Background()
	admin, cs := env.Admin("admin"), env.Crypto("acs")
	if _, err := admin.DisableKey(ctx, &pb.DisableKeyRequest{KeyId: "acs-signing"}); err != nil {
		t.Fatal(err)
	}
	_, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "disabled") {
		t.Fatalf("Sign with a disabled key: %v", err)
	}
	d, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "acs-signing"})
	if err != nil || d.Key.KeyState != "DISABLED" {
		t.Fatalf("DescribeKey: %v %v", d, err)
	}
	if _, err := admin.EnableKey(ctx, &pb.EnableKeyRequest{KeyId: "acs-signing"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")}); err != nil {
		t.Fatalf("Sign after EnableKey: %v", err)
	}
}

func TestHandshakeNeedsClientCertificate(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	ca, _, _ := env.TLSFiles("admin")
	cfg, err := server.ClientTLS(ca, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// The handshake itself must fail: no RPC reaches a handler.
	conn, err := tls.Dial("tcp", env.Addr, &tls.Config{RootCAs: cfg.RootCAs, NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS13})
	if err == nil {
		// In TLS 1.3 the server's refusal arrives with the first read.
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("handshake without a client certificate: %v", err)
	}
	gc, err := grpc.NewClient(env.Addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	_, err = pb.NewCryptoServiceClient(gc).Sign(context.Background(), &pb.SignRequest{KeyId: "k", Message: []byte("m")})
	wantCode(t, err, codes.Unavailable)
}

func TestListKeysPaginates(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	for _, n := range []string{"k1", "k2", "k3", "k4", "k5"} {
		env.CreateKey(n, "HMAC_256", "GENERATE_VERIFY_MAC")
	}
	admin := env.Admin("admin")
	var names []string
	token := ""
	for pages := 0; ; pages++ {
		resp, err := admin.ListKeys(context.Background(), &pb.ListKeysRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range resp.Keys {
			names = append(names, k.KeyId)
		}
		if token = resp.NextPageToken; token == "" {
			if pages != 2 {
				t.Errorf("%d pages of 2 for 6 keys", pages+1)
			}
			break
		}
	}
	// audit-checkpoint is the audit log's own key, made on first start.
	if strings.Join(names, ",") != "audit-checkpoint,k1,k2,k3,k4,k5" {
		t.Fatalf("ListKeys walked %v", names)
	}
}

// A restarted keygated finds its keys in the store and the token.
func TestKeysSurviveRestart(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	sig, err := env.Crypto("acs").Sign(context.Background(), &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")})
	if err != nil {
		t.Fatal(err)
	}
	store := env.Config.Store
	env2 := harness.Start(t, harness.Options{Token: &env.Token, Store: &store})
	v, err := env2.Crypto("acs").Verify(context.Background(), &pb.VerifyRequest{KeyId: "acs-signing", Message: []byte("m"), Signature: sig.Signature})
	if err != nil || !v.SignatureValid {
		t.Fatalf("Verify on the second server: %v %v", v, err)
	}
}
