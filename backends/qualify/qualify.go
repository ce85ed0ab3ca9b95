// Package qualify checks a configured backend before go-live: every key
// spec and usage keygate knows, created and used once per operation, each
// result checked with Go's standard crypto. Unlike the conformance suite
// (backendtest), which fails at the first thing a backend cannot do, it
// continues past what the backend does not support and reports a matrix,
// so an operator learns what their HSM can do. It fails only on a wrong
// result, or on an error where the backend claims support. Every key it
// made is destroyed again where the backend can destroy keys.
package qualify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

// Outcome is the result of one cell of the matrix.
type Outcome string

const (
	// OK: supported, and the result checked out.
	OK Outcome = "ok"
	// Unsupported: the backend refused, naming what it lacks.
	Unsupported Outcome = "unsupported"
	// Wrong: the backend answered, but the answer is wrong.
	Wrong Outcome = "WRONG"
	// Failed: an error where the backend claims support.
	Failed Outcome = "ERROR"
)

// Cell is one key kind and operation.
type Cell struct {
	Kind    backends.KeyKind
	Op      string
	Outcome Outcome
	Detail  string
}

// Report is the matrix for one backend.
type Report struct {
	Backend string
	Cells   []Cell
	// Left are ids of keys the backend could not destroy (it has no way
	// to, or it failed): the operator removes them by hand.
	Left []string
}

// Destroyer is implemented by backends that can destroy a key they made
// (PKCS#11); qualify uses it to leave the token as it found it.
type Destroyer interface {
	DestroyKey(ctx context.Context, id string) error
}

// Passed reports whether nothing was wrong and nothing claimed failed.
func (r *Report) Passed() bool {
	for _, c := range r.Cells {
		if c.Outcome == Wrong || c.Outcome == Failed {
			return false
		}
	}
	return true
}

// Write prints the matrix and a one-line verdict.
func (r *Report) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "KEY SPEC/USAGE\tOPERATION\tRESULT\tDETAIL\n")
	n := map[Outcome]int{}
	for _, c := range r.Cells {
		n[c.Outcome]++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Kind, c.Op, c.Outcome, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "PASSED"
	if !r.Passed() {
		verdict = "FAILED"
	}
	_, err := fmt.Fprintf(w, "backend %s: %s: %d ok, %d unsupported, %d wrong, %d errors\n",
		r.Backend, verdict, n[OK], n[Unsupported], n[Wrong], n[Failed])
	for _, id := range r.Left {
		fmt.Fprintf(w, "key %s could not be destroyed: remove it by hand\n", id)
	}
	return err
}

// Run qualifies b. ctx bounds the whole run.
func Run(ctx context.Context, b backends.Backend) *Report {
	r := &Report{Backend: b.Name()}
	claims := map[backends.KeyKind]string{}
	if cr, ok := b.(backends.CapabilityReporter); ok {
		for _, c := range cr.Capabilities() {
			claims[c.Kind] = c.Missing
		}
	}
	for _, kind := range backends.KeyKinds {
		if ctx.Err() != nil {
			r.Cells = append(r.Cells, Cell{Kind: kind, Op: "create", Outcome: Failed, Detail: ctx.Err().Error()})
			continue
		}
		r.kind(ctx, b, kind, claims[kind] == "")
	}
	return r
}

// kind creates one key of kind, runs its operations and destroys it.
func (r *Report) kind(ctx context.Context, b backends.Backend, kind backends.KeyKind, claimed bool) {
	id, err := b.CreateKey(ctx, backends.CreateRequest{Spec: kind.Spec, Usage: kind.Usage,
		Label: "keygate-qualify/" + strings.ToLower(string(kind.Spec)) + "/v1"})
	if err != nil {
		r.add(kind, "create", err, claimed)
		return
	}
	defer r.destroy(b, id)
	k, err := b.Open(ctx, id, kind.Spec, kind.Usage)
	if err != nil {
		r.add(kind, "open", err, true)
		return
	}
	r.Cells = append(r.Cells, Cell{Kind: kind, Op: "create", Outcome: OK})
	for _, op := range opsFor(kind) {
		r.add(kind, op.name, op.run(ctx, k), true)
	}
}

// add records an operation's result. A FailedPrecondition naming what the
// backend lacks is "unsupported"; any other error is a failure when the
// backend claims the kind, and "unsupported" when it said it lacks it.
func (r *Report) add(kind backends.KeyKind, op string, err error, claimed bool) {
	c := Cell{Kind: kind, Op: op, Outcome: OK}
	var wrong wrongResult
	switch {
	case err == nil:
	case errors.As(err, &wrong):
		c.Outcome, c.Detail = Wrong, wrong.what
	case kgerr.KindOf(err) == kgerr.FailedPrecondition && strings.Contains(kgerr.Message(err), " lacks "):
		c.Outcome, c.Detail = Unsupported, kgerr.Message(err)
	case !claimed:
		c.Outcome, c.Detail = Unsupported, err.Error()
	default:
		c.Outcome, c.Detail = Failed, err.Error()
	}
	r.Cells = append(r.Cells, c)
}

// destroy removes a key qualify made, with a context of its own: a run
// cut short by its deadline still cleans up.
func (r *Report) destroy(b backends.Backend, id string) {
	d, ok := b.(Destroyer)
	if !ok {
		r.Left = append(r.Left, id)
		return
	}
	if err := d.DestroyKey(context.Background(), id); err != nil {
		r.Left = append(r.Left, id)
	}
}

// wrongResult marks an answer that Go's crypto contradicts.
type wrongResult struct{ what string }

func (w wrongResult) Error() string { return w.what }

func wrongf(format string, a ...any) error { return wrongResult{fmt.Sprintf(format, a...)} }
