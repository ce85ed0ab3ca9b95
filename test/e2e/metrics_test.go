package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"gopkg.in/yaml.v3"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// scrape reads a Prometheus text exposition into metric families.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the sample of family name whose labels include want; -1 if
// there is none.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// After known calls (three signs, a policy denial, an unmapped caller),
// /metrics counts each: gRPC's calls by code, keygate's by key, action and
// decision, the denials, the backend stage, the audit commits and the
// PKCS#11 pool.
func TestMetricsCountCalls(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	ctx := context.Background()
	admins := harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}}
	env.CreateKeyWithPolicy("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", harness.Policy(admins,
		harness.Statement{Sid: "AcsSigns", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign"}}))
	web := httptest.NewServer(env.Server.MetricsHandler())
	defer web.Close()
	before := scrape(t, web.URL+"/metrics")
	events := value(before, "keygate_audit_events_total", nil)

	acs := env.Crypto("acs")
	for i := 0; i < 3; i++ {
		if _, err := acs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := env.Crypto("3ds-server").Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
	wantCode(t, err, codes.PermissionDenied)
	_, err = env.Crypto("stranger").Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m"), SigningAlgorithm: "ECDSA_SHA_256"})
	wantCode(t, err, codes.PermissionDenied)

	after := scrape(t, web.URL+"/metrics")
	sign := map[string]string{"grpc_service": "keygate.v1.CryptoService", "grpc_method": "Sign"}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"grpc_server_handled_total", with(sign, "grpc_code", "OK"), 3},
		{"grpc_server_handled_total", with(sign, "grpc_code", "PermissionDenied"), 2},
		{"grpc_server_handling_seconds", sign, 5},
		{"keygate_calls_total", map[string]string{"key": "acs-signing", "action": "kms:Sign", "decision": "Allow"}, 3},
		{"keygate_calls_total", map[string]string{"key": "acs-signing", "action": "kms:Sign", "decision": "ImplicitDeny"}, 1},
		{"keygate_calls_total", map[string]string{"key": "", "action": "kms:Sign", "decision": ""}, 1},
		{"keygate_denials_total", map[string]string{"action": "kms:Sign", "decision": "ImplicitDeny"}, 1},
		{"keygate_denials_total", map[string]string{"action": "kms:Sign", "decision": "Unidentified"}, 1},
		{"keygate_backend_calls_total", map[string]string{"backend": "hsm", "action": "kms:Sign", "class": "ok"}, 3},
		{"keygate_backend_latency_seconds", map[string]string{"backend": "hsm", "action": "kms:Sign"}, 3},
		{"keygate_pkcs11_sessions_max", map[string]string{"backend": "hsm"}, 32},
		{"keygate_pkcs11_sessions_in_use", map[string]string{"backend": "hsm"}, 0},
		{"keygate_audit_checkpoint_failures_total", nil, 0},
	} {
		if got := value(after, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// Five calls, each audited once (group commit may batch them).
	if got := value(after, "keygate_audit_events_total", nil) - events; got != 5 {
		t.Errorf("audit events committed during the calls: %v, want 5", got)
	}
	if got := value(after, "keygate_audit_head_seq", nil); got < 5 {
		t.Errorf("keygate_audit_head_seq = %v", got)
	}
	if value(after, "keygate_audit_commit_seconds", nil) < 1 || value(after, "keygate_audit_batch_size", nil) < 1 {
		t.Error("no audit commit observed")
	}
	// No session or request id becomes a label: every label value of
	// keygate's own metrics is one of a bounded set.
	for name, f := range after {
		if !strings.HasPrefix(name, "keygate_") {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "session" || l.GetName() == "request_id" || len(l.GetValue()) > 64 {
					t.Errorf("%s has an unbounded label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// keygated serves /metrics on metrics.listen and grpc.health.v1, alone
// and in plaintext, on health.listen, answering as the main listener's
// health service does; a metrics port it cannot bind stops it before it
// opens anything, naming the setting.
func TestOpsListeners(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	addr, healthAddr := harness.FreeAddr(t), harness.FreeAddr(t)
	p := env.StartProcess(func(c *server.Config) { c.Metrics.Listen = addr; c.Health.Listen = healthAddr })
	ctx := context.Background()
	conn := env.ProcessConn(p, "admin")
	if _, err := pb.NewKeyAdminServiceClient(conn).ListKeys(ctx, &pb.ListKeysRequest{}); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, "http://"+addr+"/metrics")
	if got := value(fams, "keygate_calls_total", map[string]string{"action": "kms:ListKeys", "decision": "Allow"}); got < 1 {
		t.Errorf("keygate_calls_total{action=kms:ListKeys,decision=Allow} = %v", got)
	}

	plain, err := grpc.NewClient(healthAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for _, svc := range []string{"", "keygate.v1.AuditService"} {
		want, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatal(err)
		}
		got, err := healthpb.NewHealthClient(plain).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil {
			t.Fatalf("health.listen Check(%q): %v", svc, err)
		}
		if got.Status != want.Status || (svc == "" && got.Status != healthpb.HealthCheckResponse_SERVING) {
			t.Errorf("health.listen Check(%q) = %s; the main listener says %s", svc, got.Status, want.Status)
		}
	}
	_, err = pb.NewKeyAdminServiceClient(plain).ListKeys(ctx, &pb.ListKeysRequest{})
	wantCode(t, err, codes.Unimplemented)

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	c := *env.Config
	c.Listen = harness.FreeAddr(t)
	c.Metrics.Listen = busy.Addr().String()
	raw, err := yaml.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(env.Dir, "busy-metrics.yaml")
	if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(harness.Binary(t), "--config", cfgFile)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("keygated kept running with its metrics port taken")
	}
	want := fmt.Sprintf("metrics.listen %s", busy.Addr())
	if err == nil || !strings.Contains(stderr.String(), want) {
		t.Fatalf("keygated with a busy metrics port: exit %v, stderr %q; want an error naming %q", err, stderr.String(), want)
	}
}
