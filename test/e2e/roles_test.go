package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// Finding 5 of issue 16: per-role rules on client certificates. The real
// keygated requires admins' certificates to come from a separate admin CA
// and carry its policy OID, and services' to come from the services CA; a
// certificate that misses its role's rule is refused with
// PermissionDenied naming the rule, logged and audited.
func TestRoleRulesOnClientCertificates(t *testing.T) {
	var logs harness.LogBuffer
	env := harness.Start(t, harness.Options{})
	env.ProcessLog = &logs
	env.CreateKey("pan-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	const mfa = "1.3.6.1.4.1.55555.8.4.2"
	adminCA, err := devca.New("keygate admin CA")
	if err != nil {
		t.Fatal(err)
	}
	caFile, _, _ := env.TLSFiles("admin")
	tlsDir := filepath.Dir(caFile)
	if err := devca.WriteFiles(tlsDir, "admin-ca", adminCA.Cert, adminCA.Key); err != nil {
		t.Fatal(err)
	}
	// Certificates from the admin CA, written where ProcessConn finds them.
	issue := func(file, uri string, policies ...string) {
		key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: file},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			URIs: []*url.URL{must(url.Parse(uri))}}
		for _, p := range policies {
			tmpl.Policies = append(tmpl.Policies, must(x509.ParseOID(p)))
		}
		cert := must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, adminCA.Cert, key.Public(), adminCA.Key))))
		if err := devca.WriteFiles(tlsDir, file, cert, key); err != nil {
			t.Fatal(err)
		}
	}
	issue("alice", "spiffe://keygate.test/admin", mfa)
	issue("alice-no-policy", "spiffe://keygate.test/admin")
	issue("acs-from-admin-ca", "spiffe://keygate.test/acs", mfa)

	p := env.StartProcess(func(c *server.Config) {
		c.TLS.Roles = server.RoleRules{
			Admins:     &server.RoleRule{CAFile: filepath.Join(tlsDir, "admin-ca.pem"), RequirePolicyOID: mfa},
			Principals: &server.RoleRule{CAFile: filepath.Join(tlsDir, "ca.pem")},
		}
	})
	ctx := context.Background()
	listKeys := func(identity string) error {
		_, err := pb.NewKeyAdminServiceClient(env.ProcessConn(p, identity)).ListKeys(ctx, &pb.ListKeysRequest{})
		return err
	}
	if err := listKeys("alice"); err != nil {
		t.Fatalf("an admin's certificate from the admin CA with its policy: %v", err)
	}
	if _, err := pb.NewCryptoServiceClient(env.ProcessConn(p, "acs")).GenerateDataKey(ctx,
		&pb.GenerateDataKeyRequest{KeyId: "pan-key", KeySpec: "AES_256"}); err != nil {
		t.Fatalf("a service's certificate from the services CA: %v", err)
	}
	for identity, want := range map[string]string{
		"admin":           "does not chain to the admins' CA (tls.roles.admins.ca_file)",
		"alice-no-policy": "does not carry certificate policy " + mfa,
	} {
		err := listKeys(identity)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want PermissionDenied saying %q", identity, err, want)
		}
	}
	_, err = pb.NewCryptoServiceClient(env.ProcessConn(p, "acs-from-admin-ca")).GenerateDataKey(ctx,
		&pb.GenerateDataKeyRequest{KeyId: "pan-key", KeySpec: "AES_256"})
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "principals' CA") {
		t.Errorf("a service's certificate from the admin CA: %v", err)
	}

	p.Stop()
	// Logged (a repeat of the same warning is counted, not repeated: logrepeat)...
	if !strings.Contains(logs.String(), `"msg":"call denied"`) || !strings.Contains(logs.String(), "tls.roles.admins") {
		t.Errorf("the refusal is not logged:\n%s", logs.String())
	}
	// ... and each refusal audited with the certificate that was refused.
	var denied int
	for _, ev := range events(t, env, &pb.EventFilter{Principal: harness.ARN("admin")}) {
		if ev.Action == "kms:ListKeys" && ev.Decision != "Allow" && strings.Contains(ev.CertSubject, "alice-no-policy") {
			denied++
		}
	}
	if denied == 0 {
		t.Error("the refused admin certificate is not in the audit log")
	}
}
