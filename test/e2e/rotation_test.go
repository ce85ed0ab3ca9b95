package e2e

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/codes"

	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/pgtest"
)

// acsPolicy lets admin administer acs-signing and the ACS sign with it.
func acsPolicy() string {
	return harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin"), harness.ARN("admin2")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "Acs", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign", "kms:Verify", "kms:GetPublicKey",
			"keygate:CreateAcsSession", "kms:Encrypt", "kms:Decrypt"}})
}

// issue has the DS CA certify a PKCS#10 request, as the DS's CA would.
func issue(t *testing.T, ca *devca.CA, csrPEM string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(csrPEM))
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("not a PEM certificate request: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		t.Fatalf("the request does not parse or verify: %v", err)
	}
	cert, err := ca.Sign(csr.Subject.CommonName, csr.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// certFor makes a certificate for pub with edit applied, signed by ca.
func certFor(t *testing.T, ca *devca.CA, pub any, edit func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "acs.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return must(x509.ParseCertificate(der))
}

func chainPEM(certs ...*x509.Certificate) string {
	var s string
	for _, c := range certs {
		s += string(devca.CertPEM(c))
	}
	return s
}

// The issue's "done when": acs-signing rotates end to end on SoftHSM2 (new
// version, CSR verified by openssl, a chain issued by the DS's CA
// imported after every refusal an assessor expects, activation approved by
// a second admin on the other replica) while
// CreateAcsSession and Sign calls run against two replicas, with no failed
// call; each signature verifies against its own version's key, and the
// x5c follows the new primary on both replicas without a restart.
func TestRotateAcsSigningUnderLoad(t *testing.T) {
	clock := &testClock{}
	store := &server.StoreConfig{Driver: "postgres", DSN: pgtest.DSN(t)}
	a := harness.Start(t, harness.Options{Store: store, Replica: "a", ExtraConfig: dualControlConfig, ServerOptions: server.Options{Now: clock.now}})
	b := harness.Start(t, harness.Options{Store: store, Replica: "b", Token: &a.Token, ExtraConfig: dualControlConfig,
		ServerOptions: server.Options{Now: clock.now}})
	ctx := context.Background()
	admin := a.Admin("admin")
	a.CreateKeyWithPolicy("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", acsPolicy())
	a.CreateKeyWithPolicy("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", acsPolicy())
	dsCA := must(devca.New("DS CA"))
	pub1 := must(a.Crypto("acs").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "acs-signing"}))
	leaf1 := must(dsCA.Sign("acs v1", must(x509.ParsePKIXPublicKey(pub1.PublicKey))))
	if _, err := admin.ImportCertificate(ctx, &pb.ImportCertificateRequest{KeyId: "acs-signing", ChainPem: chainPEM(leaf1),
		RootPem: chainPEM(dsCA.Cert)}); err != nil {
		t.Fatal(err)
	}

	// The load: sessions and signatures on both replicas until stopped.
	type signed struct {
		version uint32
		sig     []byte
	}
	var (
		stop     atomic.Bool
		calls    atomic.Int64
		failures []error
		sigs     []signed
		mu       sync.Mutex
		wg       sync.WaitGroup
		v2       = map[string]int{} // version 2 signatures by replica
		bothOnV2 bool
		onV2     = make(chan struct{})
	)
	msg := []byte("acs signed content")
	for _, env := range []*harness.Env{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tds, cs := pb.NewThreeDSServiceClient(env.Conn("acs")), env.Crypto("acs")
			for !stop.Load() {
				s := &sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader)), enc: "A128GCM", kid: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"}
				_, err := tds.CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: s.kid,
					AcsUrl: "https://acs.example/challenge", SdkEphemPubKey: s.jwk(), SdkReferenceNumber: "3DS_LOA_SDK_PPFU_020100_00007", Enc: s.enc})
				r, serr := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: msg})
				calls.Add(2)
				mu.Lock()
				for _, e := range []error{err, serr} {
					if e != nil {
						failures = append(failures, e)
					}
				}
				if serr == nil {
					sigs = append(sigs, signed{r.KeyVersion, r.Signature})
					if r.KeyVersion == 2 {
						v2[env.Config.Audit.Replica]++
						if v2["a"] >= 10 && v2["b"] >= 10 && !bothOnV2 {
							bothOnV2 = true
							close(onV2)
						}
					}
				}
				mu.Unlock()
			}
		}()
	}

	rot := must(admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "acs-signing"}))
	wantState(t, rot.Key, "ACTIVE", "PENDING_ACTIVATION")
	_, err := admin.ActivateKeyVersion(ctx, &pb.ActivateKeyVersionRequest{KeyId: "acs-signing", Version: 2})
	wantRefused(t, err, codes.FailedPrecondition, "no certificate chain")

	csr := must(admin.CreateCertificateRequest(ctx, &pb.CreateCertificateRequestRequest{KeyId: "acs-signing", Version: 2,
		Subject: "CN=acs.example,O=Example ACS,C=GB", DnsNames: []string{"acs.example"}}))
	dir := t.TempDir()
	csrFile := filepath.Join(dir, "v2.csr")
	if err := os.WriteFile(csrFile, []byte(csr.CsrPem), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("openssl", "req", "-in", csrFile, "-noout", "-verify").CombinedOutput(); err != nil ||
		!strings.Contains(strings.ToLower(string(out)), "verify ok") {
		t.Fatalf("openssl req -verify: %v %s", err, out)
	}
	leaf2 := issue(t, dsCA, csr.CsrPem)
	pub2 := leaf2.PublicKey

	// Every check an assessor expects, each refusal naming it, none
	// changing anything.
	otherCA := must(devca.New("not the DS CA"))
	for _, tc := range []struct {
		name, chain, root, check string
	}{
		{"leaf of another key", chainPEM(leaf1), "", "check leaf key"},
		{"expired", chainPEM(certFor(t, dsCA, pub2, func(c *x509.Certificate) {
			c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
		})), "", "check validity"},
		{"not anchored", chainPEM(certFor(t, otherCA, pub2, func(*x509.Certificate) {})), "", "check trust anchor"},
		{"no digitalSignature", chainPEM(certFor(t, dsCA, pub2, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment })), "", "check key usage"},
	} {
		_, err := admin.ImportCertificate(ctx, &pb.ImportCertificateRequest{KeyId: "acs-signing", Version: 2, ChainPem: tc.chain, RootPem: tc.root})
		wantRefused(t, err, codes.InvalidArgument, tc.check)
	}
	if _, err := admin.ImportCertificate(ctx, &pb.ImportCertificateRequest{KeyId: "acs-signing", Version: 2, ChainPem: chainPEM(leaf2)}); err != nil {
		t.Fatal(err)
	}
	// Activation needs a second admin, here on the other replica.
	act := must(admin.ActivateKeyVersion(ctx, &pb.ActivateKeyVersionRequest{KeyId: "acs-signing", Version: 2}))
	if act.PendingApproval == nil {
		t.Fatal("activation ran without a second admin")
	}
	if _, err := b.Admin("admin2").ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: act.PendingApproval.Id}); err != nil {
		t.Fatal(err)
	}
	// The other replica picks the change up within key_refresh: here the
	// test clock passes it, no sleep. The load goes on until both replicas
	// have signed with version 2.
	clock.advance(time.Second)
	select {
	case <-onV2:
	case <-time.After(2 * time.Minute): // a hang, not a timing assertion
		t.Error("the replicas did not move to version 2 under load")
	}
	stop.Store(true)
	wg.Wait()
	for _, env := range []*harness.Env{a, b} {
		resp := must(pb.NewThreeDSServiceClient(env.Conn("acs")).CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing",
			AcsTransId: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e", AcsUrl: "https://acs.example/challenge",
			SdkEphemPubKey: (&sdk{priv: must(ecdh.P256().GenerateKey(rand.Reader))}).jwk(), SdkReferenceNumber: "3DS_LOA_SDK_PPFU_020100_00007", Enc: "A128GCM"}))
		jws := must(jose.ParseSigned(resp.AcsSignedContent, []jose.SignatureAlgorithm{jose.ES256}))
		x5c := jws.Signatures[0].Protected.Certificates
		roots := x509.NewCertPool()
		roots.AddCert(dsCA.Cert)
		chains, err := x5c(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil || !chains[0][0].Equal(leaf2) {
			t.Fatalf("x5c after activation is not version 2's chain: %v", err)
		}
		if _, err := jws.Verify(leaf2.PublicKey); err != nil {
			t.Fatalf("acsSignedContent after activation: %v", err)
		}
		if r := must(env.Crypto("acs").Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: msg})); r.KeyVersion != 2 {
			t.Fatalf("replica %s signs with version %d after activation", env.Config.Audit.Replica, r.KeyVersion)
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d calls failed during the rotation, first: %v", len(failures), calls.Load(), failures[0])
	}
	pubs := map[uint32]*ecdsa.PublicKey{1: leaf1.PublicKey.(*ecdsa.PublicKey), 2: pub2.(*ecdsa.PublicKey)}
	digest := sha256.Sum256(msg)
	seen := map[uint32]int{}
	for _, s := range sigs {
		if !ecdsa.VerifyASN1(pubs[s.version], digest[:], s.sig) {
			t.Fatalf("a signature of version %d does not verify against that version's key", s.version)
		}
		seen[s.version]++
	}
	t.Logf("%d calls, signatures by version: %v", calls.Load(), seen)
}
