package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/kmsserver"
)

// runDemo starts `keygated demo` as `make run` does and waits for the
// export lines it prints once the demo keys exist.
func runDemo(t *testing.T, home, listen string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(harness.Binary(t), "demo", "--home", home, "--listen", listen, "--metrics-listen", harness.FreeAddr(t))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "export KEYGATE_KEY=") {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("keygated demo exited before it was ready")
		}
	case <-time.After(120 * time.Second):
		t.Fatal("keygated demo did not get ready")
	}
	return cmd
}

// The demo with KEYGATE_KMS_ENDPOINT set gets a "kms" backend: an
// ECC_NIST_P256 key created there signs, and openssl verifies it. A second
// run reuses what the first set up.
func TestDemoWithKMSEndpoint(t *testing.T) {
	srv := kmsserver.New(t)
	home := filepath.Join(t.TempDir(), "keygate")
	listen := harness.FreeAddr(t)
	kmsEnv := []string{"KEYGATE_KMS_ENDPOINT=" + srv.URL, "AWS_REGION=" + srv.Region,
		"AWS_ACCESS_KEY_ID=" + kmsserver.TestAccessKeyID, "AWS_SECRET_ACCESS_KEY=" + kmsserver.TestSecretAccessKey}
	first := runDemo(t, home, listen, kmsEnv...)

	tlsCfg, err := server.ClientTLS(filepath.Join(home, "tls/ca.pem"), filepath.Join(home, "tls/admin.pem"), filepath.Join(home, "tls/admin-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(listen, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()
	admin, cs := pb.NewKeyAdminServiceClient(conn), pb.NewCryptoServiceClient(conn)
	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Operator","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/admin"},"Action":"kms:*","Resource":"*"}]}`
	// The policy lets its author sign: the demo's second admin approves.
	approverTLS, err := server.ClientTLS(filepath.Join(home, "tls/ca.pem"), filepath.Join(home, "tls/admin2.pem"), filepath.Join(home, "tls/admin2-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	approverConn, err := grpc.NewClient(listen, grpc.WithTransportCredentials(credentials.NewTLS(approverTLS)))
	if err != nil {
		t.Fatal(err)
	}
	defer approverConn.Close()
	if _, err := harness.CreateApproved(ctx, admin, pb.NewKeyAdminServiceClient(approverConn),
		&pb.CreateKeyRequest{KeyId: "kms-signing", KeySpec: "ECC_NIST_P256", KeyUsage: "SIGN_VERIFY", Backend: "kms", Policy: policy}); err != nil {
		t.Fatal(err)
	}
	msg := []byte("signed in KMS")
	sig, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "kms-signing", Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := cs.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "kms-signing"})
	if err != nil {
		t.Fatal(err)
	}
	opensslVerify(t, pub.PublicKey, sig.Signature, msg)
	// The demo's own keys are there, with their policies and chains.
	for _, name := range []string{"acs-signing", "acs-signing-rsa", "data-key", "av-mac", "ds-enc", "ds-ecdh", "3ds-sessions"} {
		if _, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: name}); err != nil {
			t.Errorf("demo key %s: %v", name, err)
		}
	}
	if _, err := admin.GetCertificate(ctx, &pb.GetCertificateRequest{KeyId: "acs-signing"}); err != nil {
		t.Errorf("acs-signing has no chain: %v", err)
	}

	// A second run reuses the token, the CA and the keys.
	first.Process.Signal(os.Interrupt)
	first.Wait()
	runDemo(t, home, listen, kmsEnv...)
	conn2, err := grpc.NewClient(listen, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	v, err := pb.NewCryptoServiceClient(conn2).Verify(ctx, &pb.VerifyRequest{KeyId: "kms-signing", Message: msg, Signature: sig.Signature})
	if err != nil || !v.SignatureValid {
		t.Fatalf("after restart: %v %v", v, err)
	}
}
