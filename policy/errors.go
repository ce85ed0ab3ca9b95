package policy

import (
	"fmt"
	"strings"

	"github.com/keygate/keygate/internal/kgerr"
)

// Problem is one thing wrong with a policy document.
type Problem struct {
	Statement int    // index in Statement, or -1 for the document itself
	Sid       string // the statement's Sid, if it has one
	Element   string // e.g. "Principal", "Condition.StringEquals.kms:SigningAlgorithm"
	Message   string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Statement >= 0 {
		fmt.Fprintf(&b, "Statement[%d]", p.Statement)
		if p.Sid != "" {
			fmt.Fprintf(&b, " (Sid %q)", p.Sid)
		}
		b.WriteString(": ")
	}
	if p.Element != "" {
		b.WriteString(p.Element)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// problems collects Problems while a document is checked.
type problems struct {
	list  []Problem
	warns []Problem // legal, but probably not what the author meant
	stmt  int
	sid   string
}

// warn records something a valid document does that its author may not
// expect.
func (ps *problems) warn(element, format string, args ...any) {
	ps.warns = append(ps.warns, Problem{Statement: ps.stmt, Sid: ps.sid, Element: element,
		Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) add(element, format string, args ...any) {
	ps.list = append(ps.list, Problem{Statement: ps.stmt, Sid: ps.sid, Element: element,
		Message: fmt.Sprintf(format, args...)})
}

// err returns the collected problems as keygate's domain error, all of
// them in one message so that an operator fixes them in one round. The
// message names positions and elements and quotes only the short tokens
// that are wrong (an operator, an action), never whole statements.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	parts := make([]string, len(ps.list))
	for i, p := range ps.list {
		parts[i] = p.String()
	}
	return kgerr.Errorf(kgerr.InvalidArgument, "invalid key policy: %s", strings.Join(parts, "; "))
}
