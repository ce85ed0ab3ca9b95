package policy

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
