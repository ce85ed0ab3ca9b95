package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	_ "github.com/keygate/keygate/backends/memory"
	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// testEnv is a real keygated for the server's unit tests: the memory
// backend (proven by backendtest), SQLite in a temporary directory, the
// tamper-evident audit log, and gRPC over mutual TLS on a loopback port.
type testEnv struct {
	t    testing.TB
	dir  string
	ca   *devca.CA
	srv  *Server
	addr string
	log  *logBuffer
}

const testAccount = "111122223333"

func arn(role string) string { return "arn:aws:iam::" + testAccount + ":role/" + role }

// uriOf is the SPIFFE ID the test config maps for a role.
func uriOf(role string) string { return "spiffe://keygate.test/" + role }

// startEnv starts a server; extra is YAML added to the config's top level.
func startEnv(t testing.TB, extra string) *testEnv {
	t.Helper()
	return startEnvWith(t, extra, nil, Options{})
}

// startEnvWith lets adjust change the parsed config before the server
// starts, and passes opts to New.
func startEnvWith(t testing.TB, extra string, adjust func(*testEnv, *Config), opts Options) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir(), log: &logBuffer{}}
	ca, err := devca.New("keygate unit test CA")
	must(t, err)
	e.ca = ca
	tlsDir := filepath.Join(e.dir, "tls")
	must(t, devca.WriteFiles(tlsDir, "ca", ca.Cert, ca.Key))
	srvCert, err := ca.Server("keygated", "127.0.0.1", "localhost")
	must(t, err)
	must(t, devca.WriteFiles(tlsDir, "server", srvCert.Cert, srvCert.Key))
	secret := filepath.Join(e.dir, "audit-secret")
	must(t, os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef-unit-test"), 0o600))
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
account: %q
region: eu-west-1
tls: {cert: %q, key: %q, client_ca: %q}
admins: [%[5]s, %[16]s]   # two: a key whose policy grants its creator use waits for the other
auditors: [%[5]s]   # the tests' admin reads the log too (admins alone may not)
store: {driver: sqlite, dsn: %q}
audit: {context_secret_file: %q, replica: unit}
principals:
  - {identity: %q, arn: %q}
  - {identity: %q, arn: %q}
  - {identity: %q, arn: %q}
  - {identity: ops-by-cn, arn: %q}
  - {identity: %q, arn: %q}
backends:
  - {name: mem, type: memory}
`, testAccount, filepath.Join(tlsDir, "server.pem"), filepath.Join(tlsDir, "server-key.pem"), filepath.Join(tlsDir, "ca.pem"),
		arn("admin"), filepath.Join(e.dir, "keygate.db"), secret,
		uriOf("admin"), arn("admin"), uriOf("acs"), arn("acs"), uriOf("ds"), arn("ds"), arn("ops"), uriOf("admin2"), arn("admin2"))
	c, err := ParseConfig([]byte(cfg + extra))
	must(t, err)
	if adjust != nil {
		adjust(e, c)
	}
	e.srv, err = New(context.Background(), c, slog.New(slog.NewTextHandler(e.log, nil)), opts)
	must(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	e.addr = lis.Addr().String()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(lis) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		e.srv.Shutdown(ctx)
		<-done
		e.srv.Close()
	})
	return e
}

// cert issues a client certificate with subject CN cn and the given URI
// SANs (none, one, or several), as they are written.
func (e *testEnv) cert(cn string, uris ...string) (tls.Certificate, *x509.Certificate) {
	e.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(e.t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if len(uris) > 0 {
		// The SAN extension by hand: crypto/x509 would re-serialize each
		// URI (lowercasing its scheme), and the test needs the raw bytes.
		var names []asn1.RawValue
		for _, u := range uris {
			names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u)})
		}
		val, err := asn1.Marshal(names)
		must(e.t, err)
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidSAN, Value: val}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, e.ca.Cert, &key.PublicKey, e.ca.Key)
	must(e.t, err)
	leaf, err := x509.ParseCertificate(der)
	must(e.t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

// dial connects with a client certificate; the connection closes at cleanup.
func (e *testEnv) dial(cert tls.Certificate) *grpc.ClientConn {
	e.t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Cert)
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{cert}}
	conn, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	must(e.t, err)
	e.t.Cleanup(func() { conn.Close() })
	return conn
}

// as dials as one of the config's URI-mapped roles (or "stranger").
func (e *testEnv) as(role string) *grpc.ClientConn {
	c, _ := e.cert(role, uriOf(role))
	return e.dial(c)
}

func (e *testEnv) crypto(role string) pb.CryptoServiceClient {
	return pb.NewCryptoServiceClient(e.as(role))
}
func (e *testEnv) admin(role string) pb.KeyAdminServiceClient {
	return pb.NewKeyAdminServiceClient(e.as(role))
}

// createKey creates a key as admin with a policy document (approved by
// admin2 when it grants admin use of the key).
func (e *testEnv) createKey(name, spec, usage, policy string) *pb.KeyMetadata {
	e.t.Helper()
	resp, err := e.admin("admin").CreateKey(context.Background(), &pb.CreateKeyRequest{KeyId: name, KeySpec: spec, KeyUsage: usage, Policy: policy})
	must(e.t, err)
	if resp.PendingApproval != nil { // the policy grants admin use of the key: the second admin approves
		ap, err := e.admin("admin2").ApproveOperation(context.Background(), &pb.ApproveOperationRequest{ApprovalId: resp.PendingApproval.Id})
		must(e.t, err)
		return ap.Key
	}
	return resp.Key
}

// policyDoc lets admin manage the key and grants each principal ARN the
// actions listed for it.
func policyDoc(grants map[string][]string) string {
	st := fmt.Sprintf(`{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":%q},"Action":["kms:*","keygate:*"],"Resource":"*"}`, arn("admin"))
	for p, actions := range grants {
		list := ""
		for i, a := range actions {
			if i > 0 {
				list += ","
			}
			list += fmt.Sprintf("%q", a)
		}
		st += fmt.Sprintf(`,{"Effect":"Allow","Principal":{"AWS":%q},"Action":[%s],"Resource":"*"}`, p, list)
	}
	return `{"Version":"2012-10-17","Statement":[` + st + `]}`
}

// logBuffer collects the server's log for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// startWithCRL starts a server whose tls.crl_file, crlFile, starts empty;
// writeCRL replaces it with a list, signed by the test CA, revoking serials.
func startWithCRL(t *testing.T) (e *testEnv, crlFile string, writeCRL func(serials ...*big.Int)) {
	crlFile = filepath.Join(t.TempDir(), "clients.crl")
	writeCRL = func(serials ...*big.Int) {
		t.Helper()
		tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-time.Hour),
			NextUpdate: time.Now().Add(24 * time.Hour)}
		for _, s := range serials {
			tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now()})
		}
		der, err := x509.CreateRevocationList(rand.Reader, tmpl, e.ca.Cert, e.ca.Key)
		must(t, err)
		must(t, os.WriteFile(crlFile, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), 0o644))
	}
	e = startEnvWith(t, "", func(env *testEnv, cfg *Config) {
		e = env
		writeCRL()
		cfg.TLS.CRLFile = crlFile
	}, Options{})
	return e, crlFile, writeCRL
}
