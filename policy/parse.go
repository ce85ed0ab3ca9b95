package policy

import (
	"regexp"
	"strings"
)

// MaxSize is KMS's limit on a key policy document, in bytes.
const MaxSize = 32 * 1024

// Policy is a parsed, validated and compiled key policy. It is immutable
// and safe for concurrent use: compile it once per key version and share it.
type Policy struct {
	version string
	id      string
	stmts   []*statement
	canon   []canonStatement // for Diff
}

// Parse validates a key-policy document by KMS's rules and compiles it. On
// failure the error is a *kgerr.Error of kind InvalidArgument whose message
// lists every problem, each naming the statement (index and Sid) and the
// element; Validate returns the same problems as values.
func Parse(data []byte) (*Policy, error) {
	p, ps := parse(data)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return p, nil
}

// Validate returns every problem in a document; none means Parse succeeds.
func Validate(data []byte) []Problem {
	_, ps := parse(data)
	return ps.list
}

// Warnings returns what a document does that is legal but probably not
// meant: a statement without Resource (it has no effect, as in KMS), and
// an account principal (arn:aws:iam::ACCOUNT:root or a bare account id),
// which in keygate is every principal the config maps into that account,
// with no IAM policy behind it to narrow it down. `keygate policy
// validate`, `keys put-policy` and `keys create` print them.
func Warnings(data []byte) []Problem {
	_, ps := parse(data)
	return ps.warns
}

func parse(data []byte) (*Policy, *problems) {
	ps := &problems{stmt: -1}
	if len(data) > MaxSize {
		ps.add("", "document is %d bytes, over KMS's limit of %d", len(data), MaxSize)
		return nil, ps
	}
	if i, r, bad := badChar(data); bad {
		ps.add("", "character %U at byte %d: KMS accepts only printable Basic Latin and Latin-1 characters, tab, LF and CR", r, i)
		return nil, ps
	}
	root, err := parseJSON(data)
	if err != nil {
		ps.add("", "%v", err)
		return nil, ps
	}
	if root.kind != kObject {
		ps.add("", "document must be a JSON object, not %v", root.kind)
		return nil, ps
	}
	p := &Policy{}
	var stmtNode *node
	for i, name := range root.names {
		v := root.vals[i]
		switch name {
		case "Version":
			p.version = v.str
			if v.kind != kString || (v.str != "2012-10-17" && v.str != "2008-10-17") {
				ps.add("Version", `must be "2012-10-17" or "2008-10-17"`)
			}
		case "Id":
			p.id = v.str
			if v.kind != kString {
				ps.add("Id", "must be a string")
			}
		case "Statement":
			stmtNode = v
		default:
			ps.add(name, "unknown element (expected Version, Id, Statement)")
		}
	}
	if root.get("Version") == nil {
		ps.add("Version", "missing")
	}
	var list []*node
	switch {
	case stmtNode == nil:
		ps.add("Statement", "missing")
	case stmtNode.kind == kObject:
		list = []*node{stmtNode}
	case stmtNode.kind == kArray && len(stmtNode.arr) > 0:
		list = stmtNode.arr
	default:
		ps.add("Statement", "must be an object or a non-empty array of objects")
	}
	sids := map[string]int{}
	for i, sn := range list {
		st, cs := compileStatement(sn, i, ps)
		ps.stmt, ps.sid = -1, ""
		if st == nil {
			continue
		}
		if st.sid != "" {
			if prev, dup := sids[st.sid]; dup {
				ps.stmt, ps.sid = i, st.sid
				ps.add("Sid", "duplicate of Statement[%d]'s Sid", prev)
				ps.stmt, ps.sid = -1, ""
			}
			sids[st.sid] = i
		}
		p.stmts = append(p.stmts, st)
		p.canon = append(p.canon, cs)
	}
	return p, ps
}

var statementElements = []string{"Sid", "Effect", "Principal", "NotPrincipal", "Action",
	"NotAction", "Resource", "Condition"}

// compileStatement checks one statement and compiles it. It returns nil
// only when the statement is not even an object.
func compileStatement(n *node, i int, ps *problems) (*statement, canonStatement) {
	ps.stmt, ps.sid = i, ""
	var cs canonStatement
	if n.kind != kObject {
		ps.add("", "must be an object, not %v", n.kind)
		return nil, cs
	}
	if sid := n.get("Sid"); sid != nil {
		if sid.kind != kString {
			ps.add("Sid", "must be a string")
		} else {
			ps.sid = sid.str
		}
	}
	st := newStatement(i, ps.sid)
	cs.Sid = st.sid
	for _, name := range n.names {
		known := false
		for _, e := range statementElements {
			known = known || e == name
		}
		switch {
		case name == "NotResource":
			ps.add(name, "not supported in key policies; use Resource")
		case !known:
			ps.add(name, "unknown element")
		}
	}
	switch e := n.get("Effect"); {
	case e == nil:
		ps.add("Effect", "missing")
	case e.kind == kString && e.str == "Allow":
		st.effect = Allow
	case e.kind == kString && e.str == "Deny":
		st.effect = Deny
	default:
		ps.add("Effect", `must be "Allow" or "Deny"`)
	}
	cs.Effect = st.effect.String()
	compilePrincipal(n, st, ps, &cs)
	compileActions(n, st, ps, &cs)
	compileResources(n, st, ps, &cs)
	if n.get("Resource") == nil {
		ps.warn("Resource", `missing: the statement has no effect (KMS ignores it too); say "Resource": "*"`)
	}
	if c := n.get("Condition"); c != nil {
		st.conds, cs.Condition = compileConditions(c, ps)
	}
	return st, cs
}

// strings returns a string or an array of strings as a slice.
func stringList(n *node, element string, ps *problems) []string {
	switch n.kind {
	case kString:
		return []string{n.str}
	case kArray:
		if len(n.arr) == 0 {
			ps.add(element, "must not be an empty array")
			return nil
		}
		out := make([]string, 0, len(n.arr))
		for _, v := range n.arr {
			if v.kind != kString {
				ps.add(element, "array must hold only strings, found %v", v.kind)
				continue
			}
			out = append(out, v.str)
		}
		return out
	}
	ps.add(element, "must be a string or an array of strings, not %v", n.kind)
	return nil
}

var actionRE = regexp.MustCompile(`^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$`)

func compileActions(n *node, st *statement, ps *problems, cs *canonStatement) {
	a, na := n.get("Action"), n.get("NotAction")
	element := "Action"
	switch {
	case a != nil && na != nil:
		ps.add("Action", "Action and NotAction cannot both be present")
		return
	case a == nil && na == nil:
		ps.add("Action", "missing (one of Action or NotAction is required)")
		return
	case na != nil:
		a, element, st.notAction = na, "NotAction", true
	}
	cs.ActionKind = element
	for _, s := range stringList(a, element, ps) {
		switch {
		case s == "*":
		case !actionRE.MatchString(s):
			ps.add(element, "%q is not an action (service:Name)", s)
			continue
		case !hasNamespace(s, "kms") && !hasNamespace(s, "keygate"):
			ps.add(element, "%q is not a kms: or keygate: action", s)
			continue
		case hasWild(s) && !anyActionMatches(s):
			ps.add(element, "%q matches no action", s)
			continue
		case !hasWild(s):
			canon, ok := knownAction(s)
			if !ok {
				ps.add(element, "unknown action %q", s)
				continue
			}
			s = canon
		}
		st.actions = append(st.actions, s)
		cs.Actions = append(cs.Actions, s)
	}
}

func hasNamespace(action, ns string) bool {
	return len(action) > len(ns) && action[len(ns)] == ':' && strings.EqualFold(action[:len(ns)], ns)
}

var keyARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:kms:[a-z0-9*?-]*:[0-9*?]*:key/[A-Za-z0-9_.*?/-]+$`)

func compileResources(n *node, st *statement, ps *problems, cs *canonStatement) {
	r := n.get("Resource")
	if r == nil {
		// KMS: "If either of the required Resource or Action elements are
		// missing from a key policy statement, the policy statement has no
		// effect." It is accepted, as KMS's API accepts it, with a warning.
		return
	}
	st.resources = []string{}
	for _, s := range stringList(r, "Resource", ps) {
		if s != "*" && !keyARNRE.MatchString(s) {
			ps.add("Resource", "%q is neither \"*\" nor a KMS key ARN", s)
			continue
		}
		st.resources = append(st.resources, s)
		cs.Resources = append(cs.Resources, s)
	}
}
