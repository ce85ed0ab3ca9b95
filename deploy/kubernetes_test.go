package deploy

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"github.com/keygate/keygate/server"
)

// manifests decodes each file of kubernetes/ strictly into its Kubernetes
// API type: an unknown or misspelt field is an error, as kubectl's
// server-side field validation would make it.
type manifests struct {
	config     corev1.ConfigMap
	deployment appsv1.Deployment
	service    corev1.Service
	pdb        policyv1.PodDisruptionBudget
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	var m manifests
	for file, into := range map[string]any{"configmap.yaml": &m.config, "deployment.yaml": &m.deployment,
		"service.yaml": &m.service, "pdb.yaml": &m.pdb} {
		raw, err := os.ReadFile(filepath.Join("kubernetes", file))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(raw, into); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	return &m
}

func TestKubernetesManifests(t *testing.T) {
	m := loadManifests(t)
	cfg, err := server.ParseConfig([]byte(m.config.Data["keygated.yaml"]))
	if err != nil {
		t.Fatalf("the ConfigMap's keygated.yaml: %v", err)
	}
	if cfg.Store.Driver != "postgres" || cfg.Store.DSNEnv == "" {
		t.Errorf("the replicas must share a PostgreSQL store named by the environment, got %s", cfg.Store.Driver)
	}
	d := m.deployment
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %v, want 2", d.Spec.Replicas)
	}
	pod := d.Spec.Template
	for _, sel := range []map[string]string{d.Spec.Selector.MatchLabels, m.pdb.Spec.Selector.MatchLabels, m.service.Spec.Selector} {
		for k, v := range sel {
			if pod.Labels[k] != v {
				t.Errorf("selector %s=%s does not match the pod's labels %v", k, v, pod.Labels)
			}
		}
	}
	if m.pdb.Spec.MinAvailable == nil || m.pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("the PodDisruptionBudget should keep one replica: %v", m.pdb.Spec.MinAvailable)
	}
	port := func(addr string) int32 {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := strconv.Atoi(p)
		return int32(n)
	}
	if pod.Annotations["prometheus.io/scrape"] != "true" || pod.Annotations["prometheus.io/port"] != strconv.Itoa(int(port(cfg.Metrics.Listen))) {
		t.Errorf("metrics annotations %v do not match metrics.listen %s", pod.Annotations, cfg.Metrics.Listen)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if p := c.ReadinessProbe; p == nil || p.GRPC == nil || p.GRPC.Port != port(cfg.Health.Listen) {
		t.Errorf("readiness must be a gRPC probe on health.listen (%s): %+v", cfg.Health.Listen, c.ReadinessProbe)
	}
	ps, cs := pod.Spec.SecurityContext, c.SecurityContext
	switch {
	case ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot:
		t.Error("the pod must run as non-root")
	case ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("the pod must use the runtime's seccomp profile")
	case cs == nil || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation:
		t.Error("the container must not allow privilege escalation")
	case cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem:
		t.Error("the container's root filesystem must be read-only")
	case cs.Capabilities == nil || len(cs.Capabilities.Drop) != 1 || cs.Capabilities.Drop[0] != "ALL":
		t.Error("the container must drop all capabilities")
	}
	grace := pod.Spec.TerminationGracePeriodSeconds
	if grace == nil || float64(*grace) <= cfg.ShutdownGrace.Seconds() {
		t.Errorf("terminationGracePeriodSeconds %v must exceed shutdown_grace %s", grace, cfg.ShutdownGrace)
	}
	// Every file the config names is mounted, from the ConfigMap or a Secret.
	mounts := map[string]bool{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = true
	}
	for _, f := range []string{cfg.TLS.Cert, cfg.TLS.Key, cfg.TLS.ClientCA, cfg.Audit.ContextSecretFile} {
		if !mounts[filepath.Dir(f)] {
			t.Errorf("%s is not on a mounted volume", f)
		}
	}
	env := map[string]bool{}
	for _, e := range c.Env {
		env[e.Name] = e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil
	}
	if !env[cfg.Store.DSNEnv] {
		t.Errorf("%s must come from a Secret", cfg.Store.DSNEnv)
	}
}

// The check is strict: a misspelt field fails it.
func TestKubernetesManifestsStrict(t *testing.T) {
	raw, err := os.ReadFile("kubernetes/deployment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Replace(raw, []byte("readinessProbe:"), []byte("readinesProbe:"), 1)
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(bad, &d); err == nil {
		t.Fatal("a misspelt field decoded")
	}
}
