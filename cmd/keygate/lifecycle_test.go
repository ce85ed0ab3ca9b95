package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// The lifecycle verbs as an operator types them: rotate, re-encrypt,
// retire, schedule and cancel a deletion, automatic rotation and
// cryptoperiods, and `keys due` for cron on a clock the test moves.
func TestCLILifecycle(t *testing.T) {
	var off atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	env := harness.Start(t, harness.Options{ServerOptions: server.Options{Now: now}})
	c := newCLI(t, env, "admin")

	c.create("", "keys", "create", "data-key", "--key-spec", "SYMMETRIC_DEFAULT", "--key-usage", "ENCRYPT_DECRYPT",
		"--cryptoperiod", "2d", "--policy-file", c.file("p.json", []byte(harness.OpenPolicy())))
	ct := c.path("ct")
	c.ok("", "encrypt", "data-key", "--plaintext-file", c.file("pan", []byte("4111111111111111")), "--encryption-context", "acsTransID=42", "--out", ct)
	out := c.ok("", "keys", "rotate", "data-key")
	if !strings.Contains(out, "data-key: v2 (new) -> ACTIVE; v1 ACTIVE -> RETIRED") {
		t.Fatalf("keys rotate:\n%s", out)
	}
	ct2 := c.path("ct2")
	c.ok("", "re-encrypt", "--ciphertext-file", ct, "--encryption-context", "acsTransID=42",
		"--destination-encryption-context", "acsTransID=42", "--out", ct2)
	if pt := c.ok("", "decrypt", "--ciphertext-file", ct2, "--encryption-context", "acsTransID=42", "--out", "-"); pt != "4111111111111111" {
		t.Fatalf("the re-encrypted ciphertext decrypts to %q", pt)
	}
	c.fails(exitState, "", "", "keys", "retire", "data-key", "--version", "1")
	c.fails(exitUsage, "", "", "keys", "retire", "data-key")
	c.fails(exitArgument, "", "", "keys", "schedule-deletion", "data-key", "--version", "1", "--pending-window-in-days", "31")
	if out := c.ok("", "keys", "schedule-deletion", "data-key", "--version", "1", "--pending-window-in-days", "7"); !strings.Contains(out, "v1 RETIRED -> PENDING_DELETION") {
		t.Fatalf("keys schedule-deletion:\n%s", out)
	}
	c.ok("", "keys", "cancel-deletion", "data-key", "--version", "1")
	c.fails(exitArgument, "", "", "keys", "update", "data-key", "--rotation-period", "30d")
	if out := c.ok("", "keys", "update", "data-key", "--rotation-period", "90d"); !strings.Contains(out, "Rotation period:  90d") ||
		!strings.Contains(out, "Cryptoperiod:     2d") {
		t.Fatalf("keys update:\n%s", out)
	}

	// Due within 30 days, not yet overdue: listed, exit 0.
	if out := c.ok("", "keys", "due"); !strings.Contains(out, "data-key") || strings.Contains(out, "OVERDUE") {
		t.Fatalf("keys due before the cryptoperiod ends:\n%s", out)
	}
	if out := c.ok("", "keys", "due", "--within", "1d"); strings.Contains(out, "data-key") {
		t.Fatalf("keys due --within 1d lists a key due in 2 days:\n%s", out)
	}
	off.Store(int64(3 * 24 * time.Hour))
	out = c.fails(exitInvalid, "", "", "keys", "due")
	if !strings.Contains(out, "data-key") || !strings.Contains(out, "OVERDUE") {
		t.Fatalf("keys due after the cryptoperiod:\n%s", out)
	}
	var rows []struct {
		Key     string `json:"key_id"`
		Version uint32 `json:"version"`
		Overdue bool   `json:"overdue"`
	}
	if err := json.Unmarshal([]byte(c.fails(exitInvalid, "", "", "--output", "json", "keys", "due")), &rows); err != nil || len(rows) != 1 ||
		rows[0].Key != "data-key" || rows[0].Version != 2 || !rows[0].Overdue {
		t.Fatalf("keys due --output json: %+v %v", rows, err)
	}
	if out := c.ok("", "keys", "describe", "data-key"); !strings.Contains(out, "OVERDUE") {
		t.Fatalf("keys describe does not say OVERDUE:\n%s", out)
	}

	// keygated reports it in health; a rotation ends it.
	ctx := context.Background()
	health := func() healthpb.HealthCheckResponse_ServingStatus {
		env.Server.Tick(ctx)
		r, err := healthpb.NewHealthClient(env.Conn("admin")).Check(ctx, &healthpb.HealthCheckRequest{Service: "keygate.v1.KeyLifecycle"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	if st := health(); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health with an overdue key: %v", st)
	}
	c.ok("", "keys", "rotate", "data-key")
	if st := health(); st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health after the rotation: %v", st)
	}
	c.ok("", "keys", "due")
}
