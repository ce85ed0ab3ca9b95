package policy

import (
	"encoding/json"

	"github.com/keygate/keygate/internal/kgerr"
)

// Canonical returns the policy in the normal form Diff compares: members
// in a fixed order, lists sorted and deduplicated, bare account ids as
// root ARNs, condition keys in lower case, every list an array. Parsing it
// gives a policy with no Diff to the original. keygate stores what the
// operator wrote; this is for display and for tests.
func (p *Policy) Canonical() []byte {
	b, _ := p.render(false)
	return b
}

// ForKMS returns the canonical document without keygate: actions, for
// PutKeyPolicy on the key's KMS twin: KMS has no such operations, so they
// mean nothing there. Statements left with no action are dropped; if none
// is left the error is FailedPrecondition. Diff the result, parsed, against
// GetKeyPolicy's document to see whether KMS is in step.
func (p *Policy) ForKMS() ([]byte, error) {
	b, n := p.render(true)
	if n == 0 {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "the policy has no statement about kms: actions")
	}
	return b, nil
}

// render builds the canonical document, without keygate: actions if
// kmsOnly, and returns it with its number of statements.
func (p *Policy) render(kmsOnly bool) ([]byte, int) {
	type stmt struct {
		Sid          string                         `json:"Sid,omitempty"`
		Effect       string                         `json:"Effect"`
		Principal    map[string][]string            `json:"Principal,omitempty"`
		NotPrincipal map[string][]string            `json:"NotPrincipal,omitempty"`
		Action       []string                       `json:"Action,omitempty"`
		NotAction    []string                       `json:"NotAction,omitempty"`
		Resource     []string                       `json:"Resource,omitempty"`
		Condition    map[string]map[string][]string `json:"Condition,omitempty"`
	}
	out := struct {
		Version   string `json:"Version"`
		Id        string `json:"Id,omitempty"`
		Statement []stmt `json:"Statement"`
	}{Version: p.version, Id: p.id, Statement: []stmt{}}
	for _, c := range normalized(p) {
		if kmsOnly {
			c.Actions = kmsActions(c.Actions)
			if len(c.Actions) == 0 {
				if c.ActionKind == "Action" {
					continue
				}
				c.ActionKind = "Action" // NotAction of only keygate actions: every kms action
				c.Actions = []string{"kms:*"}
			}
		}
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
	return b, len(out.Statement)
}

func kmsActions(actions []string) []string {
	var out []string
	for _, a := range actions {
		if !hasNamespace(a, "keygate") {
			out = append(out, a)
		}
	}
	return out
}
