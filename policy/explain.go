package policy

import (
	"fmt"
	"strings"
)

// Explanation is a decision with the reasoning behind it, for
// `keygate policy simulate`. It is for operators, never for the caller of a
// denied operation.
type Explanation struct {
	Decision   Decision
	Statements []StatementTrace // every statement, in document order
}

// StatementTrace says how one statement fared against the request.
type StatementTrace struct {
	Index      int
	Sid        string
	Effect     Effect
	Principal  bool // Principal (or NotPrincipal) matched the caller
	Action     bool
	Resource   bool
	Conditions []ConditionTrace
	Matched    bool // all of the above held
}

// ConditionTrace is one condition's result.
type ConditionTrace struct {
	Operator  string
	Key       string
	Held      bool
	KeyAbsent bool // the request had no value for Key
}

// Explain evaluates r like Evaluate and reports every statement's checks.
// It allocates and is meant for tools, not the hot path.
func (p *Policy) Explain(r *Request) Explanation {
	ex := Explanation{Decision: p.Evaluate(r)}
	for i, st := range p.stmts {
		t := StatementTrace{Index: i, Sid: st.sid, Effect: st.effect}
		t.Matched = st.applies(r, &t)
		ex.Statements = append(ex.Statements, t)
	}
	return ex
}

// String renders the explanation as the CLI prints it.
func (ex Explanation) String() string {
	var b strings.Builder
	d := ex.Decision
	switch d.Effect {
	case Allow:
		fmt.Fprintf(&b, "ALLOWED by statement %s\n", d.Sid)
	case Deny:
		if d.Statement < 0 {
			fmt.Fprintf(&b, "DENIED: the encryption context has keys that differ only in case (%s)\n", d.Sid)
			break
		}
		fmt.Fprintf(&b, "DENIED explicitly by statement %s\n", d.Sid)
	default:
		b.WriteString("DENIED implicitly: no statement allows this request\n")
	}
	for _, t := range ex.Statements {
		name := fmt.Sprintf("[%d]", t.Index)
		if t.Sid != "" {
			name += " " + t.Sid
		}
		verdict := "does not apply"
		if t.Matched {
			verdict = "applies"
		}
		fmt.Fprintf(&b, "  %s (%s): %s\n", name, t.Effect, verdict)
		fmt.Fprintf(&b, "    principal %s, action %s, resource %s\n",
			yes(t.Principal), yes(t.Action), yes(t.Resource))
		for _, c := range t.Conditions {
			note := ""
			if c.KeyAbsent {
				note = " (key absent from request)"
			}
			fmt.Fprintf(&b, "    condition %s %s: %s%s\n", c.Operator, c.Key, held(c.Held), note)
		}
	}
	return b.String()
}

func yes(ok bool) string {
	if ok {
		return "matches"
	}
	return "does not match"
}

func held(ok bool) string {
	if ok {
		return "holds"
	}
	return "fails"
}
