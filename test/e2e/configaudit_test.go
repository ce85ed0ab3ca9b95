package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// configLoaded is a config.loaded event's detail.
type configLoaded struct {
	Reason        string   `json:"reason"`
	Config        string   `json:"config"`
	Principals    []string `json:"principals"`
	Admins        []string `json:"admins"`
	Auditors      []string `json:"auditors"`
	Previous      *struct{ Seq uint64 }
	Changes       []string `json:"changes"`
	RestartNeeded []string `json:"restart_needed"`
}

func configEvents(t *testing.T, env *harness.Env) []configLoaded {
	t.Helper()
	var out []configLoaded
	for _, ev := range events(t, env, &pb.EventFilter{Kind: "config.loaded"}) {
		var c configLoaded
		if err := json.Unmarshal([]byte(ev.Detail), &c); err != nil {
			t.Fatalf("config.loaded event %d: %v: %s", ev.Seq, err, ev.Detail)
		}
		if ev.Principal != "keygated" || ev.Action != "keygate:LoadConfig" {
			t.Errorf("config.loaded event %d by %q, action %q", ev.Seq, ev.Principal, ev.Action)
		}
		out = append(out, c)
	}
	return out
}

// Finding 3 of issue 16: editing principals, admins or auditors and
// restarting left only server.started. Now every start and reload records
// the effective configuration's digest and sets, with what changed since
// the replica's previous one.
func TestConfigChangesAreAudited(t *testing.T) {
	first := harness.Start(t, harness.Options{Replica: "a", Admins: []string{harness.ARN("admin")}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got := configEvents(t, first); len(got) != 1 || got[0].Reason != "start" || got[0].Previous != nil ||
		!slices.Contains(got[0].Admins, harness.ARN("admin")) {
		t.Fatalf("the first start: %+v", got)
	}
	first.Server.Shutdown(ctx)
	if err := first.Server.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart with an edited file: admin2 is an admin, a new principal is
	// mapped, the auditor is no longer one.
	reloadFile := filepath.Join(t.TempDir(), "keygated.yaml")
	second := harness.Start(t, harness.Options{Replica: "a", Token: &first.Token,
		Store:           &server.StoreConfig{Driver: "sqlite", DSN: filepath.Join(first.Dir, "keygate.db")},
		Admins:          []string{harness.ARN("admin"), harness.ARN("admin2")},
		Auditors:        []string{harness.ARN("admin")},
		ExtraPrincipals: "  - {identity: \"spiffe://keygate.test/newcomer\", arn: \"" + harness.ARN("newcomer") + "\"}\n",
		ServerOptions:   server.Options{ConfigPath: reloadFile}})
	got := configEvents(t, second)
	if len(got) != 2 {
		t.Fatalf("after a restart: %d config.loaded events, want 2", len(got))
	}
	restart := got[1]
	for _, want := range []string{"added admin " + harness.ARN("admin2"), "removed auditor " + harness.ARN("auditor"),
		"added principal " + harness.ARN("newcomer") + " <- uri:spiffe://keygate.test/newcomer"} {
		if !slices.Contains(restart.Changes, want) {
			t.Errorf("the restart's changes %q lack %q", restart.Changes, want)
		}
	}
	if restart.Previous == nil || restart.Config == got[0].Config || len(restart.Changes) == 0 || restart.Changes[0] != "config "+got[0].Config+" -> "+restart.Config {
		t.Errorf("the restart's record: %+v", restart)
	}

	// Reload from a file that drops the ds mapping and admin2: the mapping
	// is reloaded, the admins wait for a restart, and both are recorded.
	edited := *second.Config
	edited.Principals = slices.DeleteFunc(slices.Clone(edited.Principals), func(m server.PrincipalMapping) bool {
		return m.ARN == harness.ARN("ds")
	})
	edited.Admins = []string{harness.ARN("admin")}
	raw, err := yaml.Marshal(&edited)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reloadFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := second.Server.Reload(); err != nil {
		t.Fatal(err)
	}
	got = configEvents(t, second)
	if len(got) != 3 {
		t.Fatalf("after a reload: %d config.loaded events, want 3", len(got))
	}
	reload := got[2]
	if reload.Reason != "reload" || !slices.Contains(reload.Changes, "removed principal "+harness.ARN("ds")+" <- uri:spiffe://keygate.test/ds") ||
		!slices.Equal(reload.RestartNeeded, []string{"admins"}) || !slices.Contains(reload.Admins, harness.ARN("admin2")) {
		t.Errorf("the reload's record: %+v", reload)
	}
}
