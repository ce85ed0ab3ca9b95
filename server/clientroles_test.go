package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// testCert issues a certificate from parent (nil: self-signed CA) with
// the given policy OIDs.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func issueTest(t testing.TB, name string, parent *testCert, isCA bool, policies ...string) *testCert {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	return issueSerial(t, name, parent, isCA, serial, policies...)
}

func issueSerial(t testing.TB, name string, parent *testCert, isCA bool, serial *big.Int, policies ...string) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage, tmpl.ExtKeyUsage = true, true, x509.KeyUsageCertSign|x509.KeyUsageCRLSign, nil
	}
	for _, p := range policies {
		oid, err := x509.ParseOID(p)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.Policies = append(tmpl.Policies, oid)
	}
	signer, issuer := crypto.Signer(key), tmpl
	if parent != nil {
		signer, issuer = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCert{c, key}
}

func writeCA(t *testing.T, c *testCert) string {
	f := filepath.Join(t.TempDir(), c.cert.Subject.CommonName+".pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// Per-role rules (issue 16, finding 5): admins need the admin CA and its
// policy OID, auditors the policy only, services their own CA; a
// certificate that misses its role's rule is PermissionDenied, naming
// what is missing.
func TestRoleRules(t *testing.T) {
	const mfa = "1.3.6.1.4.1.55555.8.4.2"
	svcCA := issueTest(t, "services CA", nil, true)
	admCA := issueTest(t, "admin CA", nil, true)
	admInter := issueTest(t, "admin issuing CA", admCA, true, mfa)
	admInterNoPolicy := issueTest(t, "admin issuing CA without policy", admCA, true)
	cfg := &Config{
		Admins:   []string{"arn:aws:iam::111122223333:user/alice"},
		Auditors: []string{"arn:aws:iam::111122223333:user/qsa", "arn:aws:iam::111122223333:user/alice"},
		TLS: TLSConfig{Roles: RoleRules{
			Admins:     &RoleRule{CAFile: writeCA(t, admCA), RequirePolicyOID: mfa},
			Auditors:   &RoleRule{RequirePolicyOID: mfa},
			Principals: &RoleRule{CAFile: writeCA(t, svcCA)},
		}},
	}
	if p := cfg.TLS.Roles.problems(); len(p) > 0 {
		t.Fatal(p)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(svcCA.cert)
	clientCAs.AddCert(admCA.cert)
	rc, err := newRoleChecks(cfg, clientCAs)
	if err != nil {
		t.Fatal(err)
	}
	const alice, qsa, acs = "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/qsa", "arn:aws:iam::111122223333:role/acs"
	chain := func(cs ...*testCert) []*x509.Certificate {
		var out []*x509.Certificate
		for _, c := range cs {
			out = append(out, c.cert)
		}
		return out
	}
	for name, tc := range map[string]struct {
		arn   string
		chain []*x509.Certificate
		want  string // "" = accepted
	}{
		"admin from the admin CA with the policy":           {alice, chain(issueTest(t, "alice", admCA, false, mfa)), ""},
		"admin through an intermediate asserting it":        {alice, chain(issueTest(t, "alice", admInter, false, mfa), admInter), ""},
		"admin without the policy":                          {alice, chain(issueTest(t, "alice", admCA, false)), "does not carry certificate policy " + mfa},
		"admin with another policy":                         {alice, chain(issueTest(t, "alice", admCA, false, "1.2.3.4")), "certificate policy"},
		"admin via an intermediate that does not assert it": {alice, chain(issueTest(t, "alice", admInterNoPolicy, false, mfa), admInterNoPolicy), "certificate policy"},
		"admin from the services CA, with the policy":       {alice, chain(issueTest(t, "alice", svcCA, false, mfa)), "does not chain to the admins' CA"},
		"auditor from the services CA with the policy":      {qsa, chain(issueTest(t, "qsa", svcCA, false, mfa)), ""},
		"auditor without the policy":                        {qsa, chain(issueTest(t, "qsa", svcCA, false)), "which auditors need"},
		"service from its CA":                               {acs, chain(issueTest(t, "acs", svcCA, false)), ""},
		"service from the admin CA":                         {acs, chain(issueTest(t, "acs", admCA, false, mfa)), "does not chain to the principals' CA"},
	} {
		err := rc.check(tc.arn, tc.chain, time.Now())
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case tc.want != "" && (kgerr.KindOf(err) != kgerr.PermissionDenied || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want PermissionDenied saying %q", name, err, tc.want)
		}
	}
	// A chain that passes for one ARN is checked again for another.
	svc := chain(issueTest(t, "acs", svcCA, false))
	for range 2 {
		if err := rc.check(acs, svc, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := rc.check(alice, svc, time.Now()); kgerr.KindOf(err) != kgerr.PermissionDenied {
		t.Fatalf("a chain that passed as a service, as an admin: %v", err)
	}
	// No rules: nothing is checked.
	none, err := newRoleChecks(&Config{}, clientCAs)
	if err != nil || none.check(alice, chain(issueTest(t, "alice", svcCA, false)), time.Now()) != nil {
		t.Fatalf("without rules: %v", err)
	}
}

func TestRoleRulesConfigProblems(t *testing.T) {
	r := RoleRules{Admins: &RoleRule{}, Auditors: &RoleRule{RequirePolicyOID: "not.an.oid"}}
	p := strings.Join(r.problems(), "\n")
	for _, want := range []string{"tls.roles.admins: set ca_file", `tls.roles.auditors.require_policy_oid "not.an.oid"`} {
		if !strings.Contains(p, want) {
			t.Errorf("problems %q lack %q", p, want)
		}
	}
}

// With an admin CA beside the services CA, crl_file holds both CAs' lists
// (PEM, one after the other); a serial is revoked for its issuer only.
func TestCRLOfSeveralCAs(t *testing.T) {
	svcCA := issueTest(t, "services CA", nil, true)
	admCA := issueTest(t, "admin CA", nil, true)
	serial := big.NewInt(4242)
	alice := issueSerial(t, "alice", admCA, false, serial)
	acs := issueSerial(t, "acs", svcCA, false, serial)
	crl := func(ca *testCert, revoked ...*big.Int) []byte {
		tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour)}
		for _, s := range revoked {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	file := filepath.Join(t.TempDir(), "clients.crl")
	if err := os.WriteFile(file, append(crl(svcCA), crl(admCA, serial)...), 0o644); err != nil {
		t.Fatal(err)
	}
	cas := []*x509.Certificate{svcCA.cert, admCA.cert}
	c, err := newCRLChecker(file, cas, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.verify(nil, [][]*x509.Certificate{{alice.cert, admCA.cert}}); err == nil {
		t.Error("a certificate the admin CA revoked was accepted")
	}
	if err := c.verify(nil, [][]*x509.Certificate{{acs.cert, svcCA.cert}}); err != nil {
		t.Errorf("the services CA's certificate with the same serial: %v", err)
	}
	other := issueTest(t, "other CA", nil, true)
	if err := os.WriteFile(file, append(crl(svcCA), crl(other)...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := newCRLChecker(file, cas, time.Now); err == nil || !strings.Contains(err.Error(), "not signed by a client CA") {
		t.Errorf("a list from another CA: %v", err)
	}
}

// A connection's calls after its first pay a map lookup, not a chain
// verification.
func BenchmarkRoleCheck(b *testing.B) {
	ca := issueTest(b, "admin CA", nil, true)
	leaf := issueTest(b, "alice", ca, false, "1.2.3.4")
	cfgCA := filepath.Join(b.TempDir(), "ca.pem")
	os.WriteFile(cfgCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644)
	rc, err := newRoleChecks(&Config{Admins: []string{"arn:aws:iam::111122223333:user/alice"},
		TLS: TLSConfig{Roles: RoleRules{Admins: &RoleRule{CAFile: cfgCA, RequirePolicyOID: "1.2.3.4"}}}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	chain := []*x509.Certificate{leaf.cert}
	for b.Loop() {
		if err := rc.check("arn:aws:iam::111122223333:user/alice", chain, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
