// Package harness starts a real keygated for tests: a fresh SoftHSM2
// token, a local CA with the demo identities, a SQLite (or given) store,
// and the gRPC server over mutual TLS on a loopback port.
package harness

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	_ "github.com/keygate/keygate/backends/kms"
	_ "github.com/keygate/keygate/backends/pkcs11"
	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/softhsm"
)

// Account is the test deployment's AWS account.
const Account = "111122223333"

// Identities are the client identities the harness issues certificates
// for; each maps to arn:aws:iam::111122223333:role/NAME. "stranger" has a
// valid certificate but no principal mapping. "auditor" is in the config's
// auditors (see Options.Auditors).
var Identities = []string{"admin", "acs", "3ds-server", "ds", "admin2", "auditor", "stranger"}

// Env is a running keygated and what a client needs to reach it.
type Env struct {
	T      testing.TB
	Dir    string
	Addr   string
	Config *server.Config
	Server *server.Server
	Token  softhsm.Token
	CA     *devca.CA
	// ProcessLog receives the stderr of processes StartProcess runs
	// (default os.Stderr).
	ProcessLog io.Writer
	// BuildTags are the go build tags of the keygated StartProcess runs.
	BuildTags string
}

// Options adjust the environment.
type Options struct {
	// Store overrides the SQLite store (driver and DSN).
	Store *server.StoreConfig
	// Token reuses an existing token instead of making a fresh one.
	Token *softhsm.Token
	// AuditDisabled turns the tamper-evident audit log off.
	AuditDisabled bool
	// Replica names the server in audit events (default: the host name).
	Replica string
	// Admins are the config's admins (principal ARNs); nil means "admin"
	// and "admin2" (a key whose policy grants its creator use waits for a
	// second admin's approval: CreateKeyWithPolicy has admin2 give it).
	Admins []string
	// ExtraPrincipals are YAML list items added to the principals.
	ExtraPrincipals string
	// Auditors are the config's auditors (principal ARNs). Nil means
	// "admin" and "auditor": reading the audit log needs the auditor role,
	// and most tests read it as the admin that made their calls.
	Auditors []string
	// ExtraConfig is YAML added to the generated config's top level.
	ExtraConfig string
	// ExtraBackends is YAML list items added to its backends.
	ExtraBackends string
	// ServerOptions are passed to server.New.
	ServerOptions server.Options
	// Log receives the server's log; nil discards it. JSONLog writes it as
	// JSON, as keygated does outside the demo (text otherwise).
	Log     io.Writer
	JSONLog bool
	// CheckpointKeySpec and CheckpointKeyBackend set audit.signing_key_spec
	// (RSA_3072 on a token without EC) and audit.signing_key_backend; empty
	// keeps the defaults.
	CheckpointKeySpec, CheckpointKeyBackend string
}

// Start runs a keygated for the test and stops it at cleanup.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	env := &Env{T: t, Dir: t.TempDir()}
	if opts.Token != nil {
		env.Token = *opts.Token
	} else {
		env.Token = softhsm.New(t)
	}
	ca, err := devca.New("keygate test CA")
	must(t, err)
	env.CA = ca
	tlsDir := filepath.Join(env.Dir, "tls")
	must(t, devca.WriteFiles(tlsDir, "ca", ca.Cert, ca.Key))
	srv, err := ca.Server("keygated", "127.0.0.1", "localhost")
	must(t, err)
	must(t, devca.WriteFiles(tlsDir, "server", srv.Cert, srv.Key))
	for _, id := range Identities {
		c, err := ca.Client(id, "spiffe://keygate.test/"+id)
		must(t, err)
		must(t, devca.WriteFiles(tlsDir, id, c.Cert, c.Key))
	}
	pinFile := filepath.Join(env.Dir, "pin")
	must(t, os.WriteFile(pinFile, []byte(env.Token.PIN), 0o600))
	secretFile := filepath.Join(env.Dir, "audit-secret")
	must(t, os.WriteFile(secretFile, []byte("0123456789abcdef0123456789abcdef-test-only"), 0o600))

	store := server.StoreConfig{Driver: "sqlite", DSN: filepath.Join(env.Dir, "keygate.db")}
	if opts.Store != nil {
		store = *opts.Store
	}
	admins, auditors := opts.Admins, opts.Auditors
	if admins == nil {
		admins = []string{ARN("admin"), ARN("admin2")}
	}
	if auditors == nil {
		auditors = []string{ARN("admin"), ARN("auditor")}
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
account: %q
region: eu-west-1
tls: {cert: %q, key: %q, client_ca: %q}
admins: [%s]
auditors: [%s]
store: {driver: %q, dsn: %q}
key_refresh: 100ms
audit: {context_secret_file: %q, replica: %q, disabled: %t, signing_key_spec: %q, signing_key_backend: %q}
principals:
`, Account, filepath.Join(tlsDir, "server.pem"), filepath.Join(tlsDir, "server-key.pem"), filepath.Join(tlsDir, "ca.pem"),
		strings.Join(admins, ", "), strings.Join(auditors, ", "), store.Driver, store.DSN, secretFile, opts.Replica, opts.AuditDisabled,
		opts.CheckpointKeySpec, opts.CheckpointKeyBackend)
	for _, id := range Identities[:len(Identities)-1] {
		cfg += fmt.Sprintf("  - {identity: \"spiffe://keygate.test/%s\", arn: \"arn:aws:iam::%s:role/%s\"}\n", id, Account, id)
	}
	cfg += opts.ExtraPrincipals
	cfg += opts.ExtraConfig
	cfg += fmt.Sprintf(`backends:
  - name: hsm
    type: pkcs11
    config: {module: %q, token_label: %q, pin_file: %q, max_sessions: 32}
`, env.Token.Module, env.Token.Label, pinFile)
	cfg += opts.ExtraBackends
	env.Config, err = server.ParseConfig([]byte(cfg))
	must(t, err)

	w := opts.Log
	if w == nil {
		w = io.Discard
	}
	ctx := context.Background()
	var handler slog.Handler = slog.NewTextHandler(w, nil)
	if opts.JSONLog {
		handler = slog.NewJSONHandler(w, nil)
	}
	env.Server, err = server.New(ctx, env.Config, slog.New(handler), opts.ServerOptions)
	must(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	env.Addr = lis.Addr().String()
	done := make(chan error, 1)
	go func() { done <- env.Server.Serve(lis) }()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		env.Server.Shutdown(sctx)
		<-done
		env.Server.Close()
	})
	return env
}

// TLSFiles returns the CA, certificate and key files of an identity.
func (e *Env) TLSFiles(identity string) (ca, cert, key string) {
	d := filepath.Join(e.Dir, "tls")
	return filepath.Join(d, "ca.pem"), filepath.Join(d, identity+".pem"), filepath.Join(d, identity+"-key.pem")
}

// Conn dials the server as identity; the connection closes at cleanup.
func (e *Env) Conn(identity string) *grpc.ClientConn {
	return e.dial(e.Addr, identity)
}

func (e *Env) dial(addr, identity string) *grpc.ClientConn {
	e.T.Helper()
	ca, cert, key := e.TLSFiles(identity)
	cfg, err := server.ClientTLS(ca, cert, key)
	must(e.T, err)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	must(e.T, err)
	e.T.Cleanup(func() { conn.Close() })
	return conn
}

// Crypto is a CryptoService client as identity.
func (e *Env) Crypto(identity string) pb.CryptoServiceClient {
	return pb.NewCryptoServiceClient(e.Conn(identity))
}

// Admin is a KeyAdminService client as identity.
func (e *Env) Admin(identity string) pb.KeyAdminServiceClient {
	return pb.NewKeyAdminServiceClient(e.Conn(identity))
}

// CreateKey creates a key as admin, with OpenPolicy, and fails the test
// if it cannot.
func (e *Env) CreateKey(name, spec, usage string) *pb.KeyMetadata {
	e.T.Helper()
	return e.CreateKeyWithPolicy(name, spec, usage, OpenPolicy())
}

// CreateKeyWithPolicy creates a key as admin with the given policy.
func (e *Env) CreateKeyWithPolicy(name, spec, usage, policy string) *pb.KeyMetadata {
	e.T.Helper()
	return e.CreateKeyApproved(&pb.CreateKeyRequest{KeyId: name, KeySpec: spec, KeyUsage: usage, Policy: policy})
}

// CreateKeyApproved creates a key as admin; when its policy grants admin
// use of the key, the creation waits for a second admin, and admin2
// approves it.
func (e *Env) CreateKeyApproved(req *pb.CreateKeyRequest) *pb.KeyMetadata {
	e.T.Helper()
	k, err := CreateApproved(context.Background(), e.Admin("admin"), e.Admin("admin2"), req)
	must(e.T, err)
	return k
}

// CreateApproved creates a key through admin and, when the creation waits
// for a second admin, has approver approve it.
func CreateApproved(ctx context.Context, admin, approver pb.KeyAdminServiceClient, req *pb.CreateKeyRequest) (*pb.KeyMetadata, error) {
	resp, err := admin.CreateKey(ctx, req)
	if err != nil || resp.PendingApproval == nil {
		return resp.GetKey(), err
	}
	ap, err := approver.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: resp.PendingApproval.Id})
	return ap.GetKey(), err
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
