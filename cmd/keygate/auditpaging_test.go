package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/test/harness"
)

// Issue 16: `audit events --page-size 1` ran into DeadlineExceeded: each
// page read the live log, which each page's own audit.read event had just
// grown by one. A listing now prints the events there were when it began;
// its own reads are for the next listing and for `audit tail`.
func TestAuditEventsPageSizeOneEnds(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	c := newCLI(t, env, "admin")
	seqs := func(out string) []uint64 {
		var list struct{ Events []auditEvent }
		decode(t, out, &list)
		var s []uint64
		for _, e := range list.Events {
			s = append(s, e.Seq)
		}
		return s
	}
	before := seqs(c.ok("", "--output", "json", "audit", "events"))
	paged := seqs(c.ok("", "--output", "json", "audit", "events", "--page-size", "1"))
	// The listing before is one event (its own read) older than the paged one.
	head := before[len(before)-1] + 1
	if want := append(before, head); !slices.Equal(paged, want) {
		t.Fatalf("audit events --page-size 1: seqs %v, want %v", paged, want)
	}

	// The paged listing's reads, one a page, are in the log for audit tail.
	out := c.ok("", "--output", "json", "audit", "tail", "--after-seq", fmt.Sprint(head), "--kind", "audit.read",
		"--max-events", fmt.Sprint(len(paged)))
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != len(paged) {
		t.Errorf("audit tail after the paged listing: %d audit.read events, want %d (one a page):\n%s", len(lines), len(paged), out)
	}
}
