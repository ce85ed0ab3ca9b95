package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// servedSerial is the serial of the certificate keygated presents to a
// new connection now.
func servedSerial(t *testing.T, env *harness.Env) string {
	t.Helper()
	ca, cert, key := env.TLSFiles("admin")
	cfg, err := server.ClientTLS(ca, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", env.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// The server certificate is replaced on disk while callers make calls on
// open connections and on new ones: no call fails, new handshakes get the
// new certificate. A certificate that does not match its key, or has
// expired, is refused and counted, and the one serving stays.
func TestReloadServerCertificateUnderLoad(t *testing.T) {
	env := harness.Start(t, harness.Options{ExtraConfig: "reload_interval: 1h\n"}) // reloads only when the test says
	tlsDir := filepath.Join(env.Dir, "tls")
	ca, cert, key := env.TLSFiles("admin")
	clientTLS, err := server.ClientTLS(ca, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	oldSerial := servedSerial(t, env)

	var calls, failures atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	work := func(fresh bool) {
		defer wg.Done()
		var conn *grpc.ClientConn
		for {
			select {
			case <-stop:
				if conn != nil {
					conn.Close()
				}
				return
			default:
			}
			if conn == nil || fresh {
				if conn != nil {
					conn.Close()
				}
				if conn, err = grpc.NewClient(env.Addr, grpc.WithTransportCredentials(credentials.NewTLS(clientTLS.Clone()))); err != nil {
					t.Error(err)
					return
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := pb.NewKeyAdminServiceClient(conn).ListKeys(ctx, &pb.ListKeysRequest{PageSize: 1})
			cancel()
			calls.Add(1)
			if err != nil {
				failures.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}
	}
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go work(i%2 == 0) // half dial anew for every call, half keep one connection
	}
	waitCalls := func(n int64) {
		for target := calls.Load() + n; calls.Load() < target; {
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitCalls(100)

	issued, err := env.CA.Server("keygated", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := devca.WriteFiles(tlsDir, "server", issued.Cert, issued.Key); err != nil {
		t.Fatal(err)
	}
	if reloaded, err := env.Server.CheckFiles(); !reloaded || err != nil {
		t.Fatalf("CheckFiles after the certificate changed: reloaded %t, %v", reloaded, err)
	}
	waitCalls(200)
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d calls failed during the certificate change; first: %v", n, calls.Load(), firstErr.Load())
	}
	newSerial := servedSerial(t, env)
	if newSerial == oldSerial || newSerial != issued.Cert.SerialNumber.String() {
		t.Fatalf("serving serial %s after the reload; want the new %s (old %s)", newSerial, issued.Cert.SerialNumber, oldSerial)
	}

	web := httptest.NewServer(env.Server.MetricsHandler())
	defer web.Close()
	t.Run("a certificate that does not match its key is refused", func(t *testing.T) {
		other, err := env.CA.Server("keygated", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tlsDir, "server.pem"), devca.CertPEM(other.Cert), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = env.Server.CheckFiles()
		if err == nil || !strings.Contains(err.Error(), "private key does not match public key") {
			t.Fatalf("CheckFiles with a mismatched key: %v", err)
		}
		if got := servedSerial(t, env); got != newSerial {
			t.Errorf("serving %s after a refused reload, want %s still", got, newSerial)
		}
		if got := value(scrape(t, web.URL+"/metrics"), "keygate_reload_failures_total", nil); got != 1 {
			t.Errorf("keygate_reload_failures_total = %v, want 1", got)
		}
	})
	t.Run("an expired certificate is refused", func(t *testing.T) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "keygated"},
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, env.CA.Cert, k.Public(), env.CA.Key)
		if err != nil {
			t.Fatal(err)
		}
		expired, _ := x509.ParseCertificate(der)
		if err := devca.WriteFiles(tlsDir, "server", expired, k); err != nil {
			t.Fatal(err)
		}
		_, err = env.Server.CheckFiles()
		if err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("CheckFiles with an expired certificate: %v", err)
		}
		if got := servedSerial(t, env); got != newSerial {
			t.Errorf("serving %s after a refused reload, want %s still", got, newSerial)
		}
		if got := value(scrape(t, web.URL+"/metrics"), "keygate_reload_failures_total", nil); got != 2 {
			t.Errorf("keygate_reload_failures_total = %v, want 2", got)
		}
	})
}

// On SIGHUP keygated reads its config file again for the principal
// mapping: a new identity is admitted without a restart; a config with an
// error is refused, counted, and the mapping that runs stays.
func TestReloadPrincipalsOnHangup(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	metricsAddr := harness.FreeAddr(t)
	p := env.StartProcess(func(c *server.Config) { c.Metrics.Listen = metricsAddr; c.ReloadInterval = time.Hour })
	ctx := context.Background()
	stranger := pb.NewKeyAdminServiceClient(env.ProcessConn(p, "stranger"))
	_, err := stranger.ListKeys(ctx, &pb.ListKeysRequest{})
	wantCode(t, err, codes.PermissionDenied)

	var c server.Config
	raw, err := os.ReadFile(p.ConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c.Principals = append(c.Principals, server.PrincipalMapping{Identity: "spiffe://keygate.test/stranger", ARN: harness.ARN("admin")})
	writeConfig := func(c *server.Config) {
		raw, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p.ConfigFile+".new", raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p.ConfigFile+".new", p.ConfigFile); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(&c)
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stranger admitted after SIGHUP", func() bool {
		_, err := stranger.ListKeys(ctx, &pb.ListKeysRequest{})
		return err == nil
	})

	c.Principals[0].ARN = "not-an-arn"
	writeConfig(&c)
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bad config's reload counted", func() bool {
		return value(scrape(t, "http://"+metricsAddr+"/metrics"), "keygate_reload_failures_total", nil) == 1
	})
	if _, err := stranger.ListKeys(ctx, &pb.ListKeysRequest{}); err != nil {
		t.Errorf("after a refused reload the running mapping should stay: %v", err)
	}
}

// waitFor polls cond until it holds, failing after a generous deadline
// (the machine may be loaded: the deadline only catches a hang).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
