package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// canonStatement is a statement in a form where the things KMS does not
// care about are gone: member order, whitespace, a single value versus a
// one-element array, "Principal": "*" versus {"AWS": "*"}, a bare account
// id versus its root ARN, the order of list
// values and the case of condition keys and known action names.
type canonStatement struct {
	Sid           string                         `json:"Sid,omitempty"`
	Effect        string                         `json:"Effect"`
	PrincipalKind string                         `json:"-"`
	Principal     map[string][]string            `json:"Principal"`
	ActionKind    string                         `json:"-"`
	Actions       []string                       `json:"Action"`
	Resources     []string                       `json:"Resource"`
	Condition     map[string]map[string][]string `json:"Condition,omitempty"`
}

func (c *canonStatement) normalize() {
	for k, v := range c.Principal {
		c.Principal[k] = sortedSet(v)
	}
	c.Actions = sortedSet(c.Actions)
	c.Resources = sortedSet(c.Resources)
	for _, keys := range c.Condition {
		for k, v := range keys {
			keys[k] = sortedSet(v)
		}
	}
}

func sortedSet(v []string) []string {
	out := slices.Clone(v)
	sort.Strings(out)
	return slices.Compact(out)
}

// fingerprint is the statement's canonical text; equal fingerprints mean
// semantically identical statements.
func (c canonStatement) fingerprint() string {
	b, _ := json.Marshal(struct {
		canonStatement
		PK string
		AK string
	}{c, c.PrincipalKind, c.ActionKind})
	return string(b)
}

// Diff compares two policies semantically and returns one line per
// difference; none means KMS would treat them the same. Statements are
// paired by Sid where both have one, otherwise only identical statements
// pair up. a is usually keygate's document and b the one GetKeyPolicy
// returned.
func Diff(a, b *Policy) []string {
	var out []string
	if a.version != b.version {
		out = append(out, fmt.Sprintf("Version: %q vs %q", a.version, b.version))
	}
	ca, cb := normalized(a), normalized(b)
	usedA, usedB := make([]bool, len(ca)), make([]bool, len(cb))
	// Identical statements first, wherever they are.
	for i := range ca {
		for j := range cb {
			if !usedB[j] && ca[i].fingerprint() == cb[j].fingerprint() {
				usedA[i], usedB[j] = true, true
				break
			}
		}
	}
	// Then statements with the same Sid: report element by element.
	for i := range ca {
		if usedA[i] || ca[i].Sid == "" {
			continue
		}
		for j := range cb {
			if !usedB[j] && cb[j].Sid == ca[i].Sid {
				usedA[i], usedB[j] = true, true
				out = append(out, diffStatement(ca[i], cb[j])...)
				break
			}
		}
	}
	for i := range ca {
		if !usedA[i] {
			out = append(out, fmt.Sprintf("statement %s only in the first document", name(ca[i], i)))
		}
	}
	for j := range cb {
		if !usedB[j] {
			out = append(out, fmt.Sprintf("statement %s only in the second document", name(cb[j], j)))
		}
	}
	return out
}

func normalized(p *Policy) []canonStatement {
	out := make([]canonStatement, len(p.canon))
	for i, c := range p.canon {
		c.Principal = cloneMap(c.Principal)
		c.Condition = cloneCond(c.Condition)
		c.normalize()
		out[i] = c
	}
	return out
}

func name(c canonStatement, i int) string {
	if c.Sid != "" {
		return fmt.Sprintf("%q", c.Sid)
	}
	return fmt.Sprintf("[%d] (no Sid)", i)
}

func diffStatement(a, b canonStatement) []string {
	var out []string
	add := func(element, format string, args ...any) {
		out = append(out, fmt.Sprintf("statement %q: %s: ", a.Sid, element)+fmt.Sprintf(format, args...))
	}
	if a.Effect != b.Effect {
		add("Effect", "%s vs %s", a.Effect, b.Effect)
	}
	if a.PrincipalKind != b.PrincipalKind {
		add("Principal", "%s vs %s", a.PrincipalKind, b.PrincipalKind)
	}
	types := sortedSet(append(mapKeys(a.Principal), mapKeys(b.Principal)...))
	for _, t := range types {
		if s := setDiff(a.Principal[t], b.Principal[t]); s != "" {
			add(a.PrincipalKind+"."+t, "%s", s)
		}
	}
	if a.ActionKind != b.ActionKind {
		add("Action", "%s vs %s", a.ActionKind, b.ActionKind)
	}
	if s := setDiff(a.Actions, b.Actions); s != "" {
		add(a.ActionKind, "%s", s)
	}
	if s := setDiff(a.Resources, b.Resources); s != "" {
		add("Resource", "%s", s)
	}
	ops := sortedSet(append(mapKeys(a.Condition), mapKeys(b.Condition)...))
	for _, op := range ops {
		ka, kb := a.Condition[op], b.Condition[op]
		for _, k := range sortedSet(append(mapKeys(ka), mapKeys(kb)...)) {
			va, ina := ka[k]
			vb, inb := kb[k]
			switch {
			case !inb:
				add("Condition."+op+"."+k, "only in the first document")
			case !ina:
				add("Condition."+op+"."+k, "only in the second document")
			default:
				if s := setDiff(va, vb); s != "" {
					add("Condition."+op+"."+k, "%s", s)
				}
			}
		}
	}
	return out
}

// setDiff describes how two sorted sets differ, or returns "".
func setDiff(a, b []string) string {
	var onlyA, onlyB []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			onlyA = append(onlyA, x)
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			onlyB = append(onlyB, x)
		}
	}
	var parts []string
	if len(onlyA) > 0 {
		parts = append(parts, "only in the first: "+strings.Join(onlyA, ", "))
	}
	if len(onlyB) > 0 {
		parts = append(parts, "only in the second: "+strings.Join(onlyB, ", "))
	}
	return strings.Join(parts, "; ")
}

func mapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func cloneMap(m map[string][]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = slices.Clone(v)
	}
	return out
}

func cloneCond(m map[string]map[string][]string) map[string]map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string]map[string][]string, len(m))
	for k, v := range m {
		out[k] = cloneMap(v)
	}
	return out
}
