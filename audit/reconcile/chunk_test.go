package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// memSource is CloudTrail as a list, for the engine's edge cases.
type memSource []*Event

func (m memSource) Name() string                            { return "memory" }
func (m memSource) Check(since, until, now time.Time) error { return nil }
func (m memSource) Events(_ context.Context, since, until time.Time, fn func(*Event) error, _ func(Problem)) error {
	for _, e := range m {
		if !e.Time.Before(since) && e.Time.Before(until) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// A call whose two halves fall on either side of a chunk boundary, or of
// the window's end, is still one matched call.
func TestChunkEdges(t *testing.T) {
	const arn = "arn:aws:kms:eu-west-1:111122223333:key/k"
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	kg := []*audit.Event{
		{Seq: 1, Time: base.Add(time.Hour - 100*time.Millisecond), Kind: audit.KindCall, Action: "kms:Sign", BackendKeyID: arn, BackendRequestID: "r1", Result: "OK"},
		{Seq: 2, Time: base.Add(2*time.Hour - 50*time.Millisecond), Kind: audit.KindCall, Action: "kms:Sign", BackendKeyID: arn, BackendRequestID: "r2", Result: "OK"},
		{Seq: 3, Time: base.Add(30 * time.Minute), Kind: audit.KindCall, Action: "kms:Sign", BackendKeyID: arn, Result: "DeadlineExceeded"},
	}
	ct := memSource{
		{EventID: "e1", RequestID: "r1", EventSource: kmsSource, EventName: "Sign", Time: base.Add(time.Hour + time.Second), KeyARNs: []string{arn}, Identity: "arn:aws:iam::1:role/keygated"},
		{EventID: "e2", RequestID: "r2", EventSource: kmsSource, EventName: "Sign", Time: base.Add(2*time.Hour + time.Second), KeyARNs: []string{arn}, Identity: "arn:aws:iam::1:role/keygated"},
		// keygate timed out before KMS's answer: joined on (operation, key, time).
		{EventID: "e3", RequestID: "r3", EventSource: kmsSource, EventName: "Sign", Time: base.Add(30*time.Minute + 2*time.Second), KeyARNs: []string{arn}, Identity: "arn:aws:sts::1:assumed-role/keygated/s1"},
	}
	audits := func(_ context.Context, since, until time.Time, fn func(*audit.Event) error) error {
		for _, e := range kg {
			if !e.Time.Before(since) && e.Time.Before(until) {
				if err := fn(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	rep, err := Run(context.Background(), memSource(ct), Options{Since: base, Until: base.Add(2 * time.Hour), Now: base.Add(48 * time.Hour),
		Chunk: time.Hour, Audit: audits, Keys: []Key{{Name: "k", KMS: true, ARNs: []string{arn}}}, KeygateRoles: []string{"arn:aws:iam::1:role/keygated"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts[Matched] != 3 || rep.Failed() {
		t.Fatalf("%+v %+v", rep.Counts, rep.Findings)
	}
	if roleOf("arn:aws:sts::1:assumed-role/keygated/s1") != "arn:aws:iam::1:role/keygated" {
		t.Fatal("roleOf")
	}
}
