package policy

import "encoding/json"

// Canonical returns the policy in the normal form Diff compares: members
// in a fixed order, lists sorted and deduplicated, bare account ids as
// root ARNs, condition keys in lower case, every list an array. Parsing it
// gives a policy with no Diff to the original. keygate stores what the
// operator wrote; this is for display and for tests.
func (p *Policy) Canonical() []byte {
	type stmt struct {
		Sid          string                         `json:"Sid,omitempty"`
		Effect       string                         `json:"Effect"`
		Principal    map[string][]string            `json:"Principal,omitempty"`
		NotPrincipal map[string][]string            `json:"NotPrincipal,omitempty"`
		Action       []string                       `json:"Action,omitempty"`
		NotAction    []string                       `json:"NotAction,omitempty"`
		Resource     []string                       `json:"Resource"`
		Condition    map[string]map[string][]string `json:"Condition,omitempty"`
	}
	out := struct {
		Version   string `json:"Version"`
		Id        string `json:"Id,omitempty"`
		Statement []stmt `json:"Statement"`
	}{Version: p.version, Id: p.id, Statement: []stmt{}}
	for _, c := range normalized(p) {
		s := stmt{Sid: c.Sid, Effect: c.Effect, Resource: c.Resources, Condition: c.Condition}
		if c.PrincipalKind == "NotPrincipal" {
			s.NotPrincipal = c.Principal
		} else {
			s.Principal = c.Principal
		}
		if c.ActionKind == "NotAction" {
			s.NotAction = c.Actions
		} else {
			s.Action = c.Actions
		}
		out.Statement = append(out.Statement, s)
	}
	b, _ := json.MarshalIndent(out, "", "  ") // strings, slices and maps only: cannot fail
	return b
}
