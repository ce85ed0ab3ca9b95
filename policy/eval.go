package policy

import (
	"strings"

	"github.com/keygate/keygate/internal/kgerr"
)

// Decision is the outcome of evaluating a policy for one request.
type Decision struct {
	Allowed bool
	Effect  Effect // Allow, Deny (an explicit Deny matched) or ImplicitDeny
	// Sid names the deciding statement: its Sid, or its index in decimal
	// when it has none; empty for an implicit deny. It goes to the audit
	// record; it is not for the caller (it reveals the policy's shape).
	Sid string
	// Statement is the deciding statement's index, or -1.
	Statement int
}

// Evaluate decides r with IAM's logic: an explicit Deny wins, else an Allow
// that matches allows, else the request is implicitly denied. It does not
// allocate and is safe for concurrent use.
func (p *Policy) Evaluate(r *Request) Decision {
	if caseTwins(r.EncryptionContext) != "" {
		return Decision{Effect: Deny, Sid: AmbiguousContextSid, Statement: -1}
	}
	allow := -1
	for i, st := range p.stmts {
		if !st.applies(r, nil) {
			continue
		}
		if st.effect == Deny {
			return Decision{Effect: Deny, Sid: st.label, Statement: i}
		}
		if allow < 0 {
			allow = i
		}
	}
	if allow >= 0 {
		return Decision{Allowed: true, Effect: Allow, Sid: p.stmts[allow].label, Statement: allow}
	}
	return Decision{Effect: ImplicitDeny, Statement: -1}
}

// AmbiguousContextSid is the Sid of the decision on a request whose
// encryption context has two keys equal under case folding: denied,
// whatever the policy says.
const AmbiguousContextSid = "keygate:AmbiguousEncryptionContext"

// CheckEncryptionContext refuses an encryption context with two keys that
// differ only in case ({"tenant":"B","Tenant":"A"}). kms:EncryptionContext:
// <name> matches <name> case-insensitively, as KMS does, so such a
// context would make the condition's value depend on which twin is read;
// KMS advises against such pairs, keygate refuses them. The error names
// the keys, never the values.
func CheckEncryptionContext(ec map[string]string) error {
	if k := caseTwins(ec); k != "" {
		return kgerr.Errorf(kgerr.InvalidArgument, "encryption_context has keys that differ only in case (%q and another)", k)
	}
	return nil
}

// caseTwins returns the smaller of two keys of ec that are equal under
// case folding, or "" when there are none. It does not allocate.
func caseTwins(ec map[string]string) string {
	if len(ec) < 2 {
		return ""
	}
	twin := ""
	for a := range ec {
		for b := range ec {
			if a < b && strings.EqualFold(a, b) && (twin == "" || a < twin) {
				twin = a
			}
		}
	}
	return twin
}

// applies reports whether every element of st matches r. When t is not nil
// it records each check for Explain and evaluates all of them; otherwise it
// stops at the first that fails.
func (st *statement) applies(r *Request, t *StatementTrace) bool {
	ok := st.principalMatches(r.Principal)
	if t != nil {
		t.Principal = ok
	} else if !ok {
		return false
	}
	a := st.actionMatches(r.Action)
	if t != nil {
		t.Action = a
	} else if !a {
		return false
	}
	res := st.resourceMatches(r.Resource)
	if t != nil {
		t.Resource = res
	} else if !res {
		return false
	}
	ok = ok && a && res
	for i := range st.conds {
		c := &st.conds[i]
		held, why := c.eval(r)
		if t != nil {
			t.Conditions = append(t.Conditions, ConditionTrace{Operator: c.opName, Key: c.keyName,
				Held: held, KeyAbsent: why == outAbsent})
		} else if !held {
			return false
		}
		ok = ok && held
	}
	return ok
}
