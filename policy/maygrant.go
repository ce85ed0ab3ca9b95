package policy

// Grant says how far a document may allow one principal an action on a
// resource, whatever the request's facts.
type Grant int

const (
	// NoGrant: no Allow statement matches, or a Deny without conditions does.
	NoGrant Grant = iota
	// ConditionalGrant: an Allow statement matches, but only under its
	// conditions (an algorithm, an encryption context, a time...).
	ConditionalGrant
	// Granted: an Allow statement without conditions matches.
	Granted
)

// MayAllow says whether some request by principal for action on resource
// could be allowed, without knowing the request's facts: Allow statements
// are matched on principal, action and resource, their conditions assumed
// satisfiable; only a Deny without conditions takes a grant away. It
// over-approximates on purpose: it answers "does this document give that
// principal use of the key", where a grant missed is worse than a grant
// that no real request could meet.
func (p *Policy) MayAllow(principal, action, resource string) Grant {
	g := NoGrant
	for _, st := range p.stmts {
		if !st.principalMatches(principal) || !st.actionMatches(action) || !st.resourceMatches(resource) {
			continue
		}
		switch {
		case st.effect == Deny && len(st.conds) == 0:
			return NoGrant
		case st.effect == Deny:
		case len(st.conds) == 0:
			g = Granted
		default:
			g = max(g, ConditionalGrant)
		}
	}
	return g
}
