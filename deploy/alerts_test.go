package deploy

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// ruleFile is Prometheus's rule file format, as far as these rules use it.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var metricName = regexp.MustCompile(`\b(keygate|grpc_server)_[a-z0-9_]+`)

// Each alert decodes strictly, has a summary and a severity, and names only
// metrics keygated exports: keygate's own (declared in server/metrics*.go)
// or go-grpc-middleware's server metrics.
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile("prometheus/keygate-alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{"grpc_server_handled_total": true, "grpc_server_started_total": true,
		"grpc_server_handling_seconds": true, "grpc_server_msg_received_total": true, "grpc_server_msg_sent_total": true}
	files, _ := filepath.Glob("../server/metrics*.go")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`"(keygate_[a-z0-9_]+)"`).FindAllSubmatch(src, -1) {
			declared[string(m[1])] = true
		}
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			if r.Alert == "" || r.Expr == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
				t.Errorf("rule %q lacks an alert name, expr, summary or severity", r.Alert)
			}
			for _, name := range metricName.FindAllString(r.Expr, -1) {
				base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
				if !declared[base] {
					t.Errorf("alert %s uses %s, which keygated does not export", r.Alert, name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no rules")
	}
}
