package kms

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// With a budget, keygated sends KMS at most the budget and refuses the rest
// itself: ResourceExhausted with a retry-after hint, before KMS is asked.
// Every request sent is counted by operation and key. The budget's rate
// is one request per thousand seconds, so only its burst (3) goes out
// whatever the machine's speed.
func TestBudgetShedsBeforeKMS(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := context.Background()
	id, err := f.b.CreateKey(ctx, backends.CreateRequest{Spec: keys.ECCNISTP256, Usage: keys.SignVerify, Label: "budget/v1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(f.srv, 3)
	name := fmt.Sprintf("kms-budget-%d", budgetRuns.Add(1)) // the counts are process-wide
	budgeted := New(name, cfg, Options{Endpoint: f.srv.URL, RequestsPerSecond: 0.001, Burst: 3})
	k, err := budgeted.Open(ctx, id, keys.ECCNISTP256, keys.SignVerify)
	if err != nil {
		t.Fatal(err)
	}
	before := signsAt(f)
	digest := make([]byte, 32)
	signed := 0
	var shedErr error
	for range 10 {
		if _, err := k.Sign(ctx, keys.ECDSASHA256, digest); err != nil {
			shedErr = err
			break
		}
		signed++
	}
	if shedErr == nil || signed == 0 {
		t.Fatalf("signed %d of 10 without shedding (err %v)", signed, shedErr)
	}
	wantKind(t, shedErr, kgerr.ResourceExhausted)
	if kgerr.RetryAfterOf(shedErr) <= 0 {
		t.Errorf("no retry-after hint on %v", shedErr)
	}
	if msg := kgerr.Message(shedErr); !strings.Contains(msg, `"`+name+`"`) || !strings.Contains(msg, "budget") {
		t.Errorf("message %q does not name the backend and its budget", msg)
	}
	if got := signsAt(f) - before; got != signed {
		t.Errorf("KMS saw %d Sign requests, keygate got %d signatures: a shed request reached KMS", got, signed)
	}
	counted := 0
	for _, op := range []string{"DescribeKey", "GetPublicKey", "Sign"} {
		if v := requests.Get(name + " " + op + " " + id); v != nil {
			n := int(v.(interface{ Value() int64 }).Value())
			counted += n
			if op == "Sign" && n != signed {
				t.Errorf("counted %d Sign requests, sent %d", n, signed)
			}
		}
	}
	if counted != 3 {
		t.Errorf("counted %d requests to KMS, want the burst of 3", counted)
	}
	if v := shed.Get(name + " Sign " + id); v == nil || v.String() != "1" {
		t.Errorf("shed count %v, want 1", v)
	}
	// The unbudgeted backend on the same KMS is not affected.
	if _, err := f.b.Open(ctx, id, keys.ECCNISTP256, keys.SignVerify); err != nil {
		t.Fatal(err)
	}
}

var budgetRuns atomic.Int64

func signsAt(f *fixture) int {
	n := 0
	for _, r := range f.srv.Records() {
		if r.EventName == "Sign" && r.ErrorCode == "" {
			n++
		}
	}
	return n
}

func TestBudgetConfig(t *testing.T) {
	if err := (Config{RequestsPerSecond: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "requests_per_second") {
		t.Errorf("negative rate: %v", err)
	}
	if err := (Config{Burst: 5}).Validate(); err == nil || !strings.Contains(err.Error(), "burst") {
		t.Errorf("burst without a rate: %v", err)
	}
	if err := (Config{RequestsPerSecond: 1000, Burst: 100}).Validate(); err != nil {
		t.Error(err)
	}
}
