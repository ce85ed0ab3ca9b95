// Package faults injects each dependency's failure into the real keygated
// binary under load and measures what callers saw: calls answered, calls
// refused by code, audit records lost (must be 0), the time to recover,
// the peak RSS. `go test ./test/faults` runs the short form (make test);
// `make chaos` runs the long one (-long) and prints the table that
// docs/RELIABILITY.md records.
package faults

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

var long = flag.Bool("long", false, "the long form: more calls refused per fault (make chaos)")

// scale is how many refused calls a fault runs for, short or long.
func scale(short, longN int) int {
	if *long {
		return longN
	}
	return short
}

// row is one fault's line in the table.
type row struct {
	fault    string
	answered int
	refused  map[codes.Code]int
	lost     int
	recovery time.Duration // from the fault's end to the first answer begun after it
	rssMB    int64
	logLines int // lines keygated wrote during the fault (-1: not counted)
}

var (
	tableMu sync.Mutex
	table   []row
)

func record(r row) {
	tableMu.Lock()
	table = append(table, r)
	tableMu.Unlock()
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	printTable()
	os.Exit(code)
}

func printTable() {
	if len(table) == 0 {
		return
	}
	host, _ := os.Hostname()
	fmt.Printf("\nkeygate faults, %s form, %s, %s\n", map[bool]string{true: "long", false: "short"}[*long],
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host)
	fmt.Printf("| %-38s | %8s | %-44s | %4s | %10s | %7s | %9s |\n", "fault", "answered", "refused by code", "lost", "recovery", "peak RSS", "log lines")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 40), strings.Repeat("-", 10), strings.Repeat("-", 46),
		strings.Repeat("-", 6), strings.Repeat("-", 12), strings.Repeat("-", 9), strings.Repeat("-", 11))
	for _, r := range table {
		var cs []string
		for c, n := range r.refused {
			cs = append(cs, fmt.Sprintf("%s %d", c, n))
		}
		sort.Strings(cs)
		lines := "-"
		if r.logLines >= 0 {
			lines = fmt.Sprint(r.logLines)
		}
		fmt.Printf("| %-38s | %8d | %-44s | %4d | %10s | %5d MB | %9s |\n", r.fault, r.answered, strings.Join(cs, ", "),
			r.lost, r.recovery.Round(time.Millisecond), r.rssMB, lines)
	}
}
