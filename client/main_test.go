package client_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"testing"

	"github.com/keygate/keygate/client"
	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// env is one keygated (SoftHSM2 token, mTLS, SQLite) shared by the tests
// and the runnable examples of this package.
var env *harness.Env

func TestMain(m *testing.M) {
	tb := &mainTB{}
	env = harness.Start(tb, harness.Options{})
	// The ACS signs with its key and reads the key's chain for x5c.
	env.CreateKeyWithPolicy("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "Acs", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"}}))
	env.CreateKey("acs-signing-rsa", "RSA_2048", "SIGN_VERIFY")
	env.CreateKey("ds-enc", "RSA_2048", "ENCRYPT_DECRYPT")
	env.CreateKey("pan-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	importChain("acs-signing")
	code := m.Run()
	tb.cleanup()
	os.Exit(code)
}

// importChain gives a key's primary version a certificate from the test
// CA, as the DS CA would issue it.
func importChain(keyID string) {
	ctx := context.Background()
	pub, err := env.Crypto("admin").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: keyID})
	if err != nil {
		panic(err)
	}
	pk, err := x509.ParsePKIXPublicKey(pub.PublicKey)
	if err != nil {
		panic(err)
	}
	cert, err := env.CA.Sign("acs.example", pk)
	if err != nil {
		panic(err)
	}
	chain := string(devca.CertPEM(cert)) + string(devca.CertPEM(env.CA.Cert))
	if _, err := env.Admin("admin").ImportCertificate(ctx, &pb.ImportCertificateRequest{KeyId: keyID, ChainPem: chain}); err != nil {
		panic(err)
	}
}

// dial connects as the acs identity, as an ACS embedding keygate would.
func dial(opts ...client.Option) *client.Client {
	ca, cert, key := env.TLSFiles("acs")
	c, err := client.Dial(context.Background(), env.Addr, append([]client.Option{client.WithTLSFiles(ca, cert, key)}, opts...)...)
	if err != nil {
		panic(err)
	}
	return c
}

// mainTB lets TestMain start the harness, which the examples need: the
// few testing.TB methods the harness calls, failing loudly otherwise.
type mainTB struct {
	testing.TB
	cleanups []func()
	n        int
}

func (m *mainTB) Helper()          {}
func (m *mainTB) Name() string     { return "client" }
func (m *mainTB) Cleanup(f func()) { m.cleanups = append(m.cleanups, f) }
func (m *mainTB) Fatal(args ...any) {
	m.cleanup()
	panic(fmt.Sprint(args...))
}
func (m *mainTB) Fatalf(format string, args ...any) { m.Fatal(fmt.Sprintf(format, args...)) }
func (m *mainTB) Errorf(format string, args ...any) { m.Fatal(fmt.Sprintf(format, args...)) }
func (m *mainTB) Logf(format string, args ...any)   { fmt.Fprintf(os.Stderr, format+"\n", args...) }
func (m *mainTB) TempDir() string {
	d, err := os.MkdirTemp("", "keygate-client-")
	if err != nil {
		m.Fatal(err)
	}
	m.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func (m *mainTB) cleanup() {
	for i := len(m.cleanups) - 1; i >= 0; i-- {
		m.cleanups[i]()
	}
	m.cleanups = nil
}
