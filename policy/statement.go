package policy

import "strconv"

// Effect is what a statement, or a decision, says.
type Effect int

const (
	ImplicitDeny Effect = iota // no statement allowed the request
	Allow
	Deny
)

func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "ImplicitDeny"
}

// statement is a compiled Statement.
type statement struct {
	index        int
	sid          string
	label        string // Sid, or the index when there is none
	effect       Effect
	notPrincipal bool
	principals   principals
	notAction    bool
	actions      []string // patterns; wildcards allowed, matched case-insensitively
	resources    []string // patterns; nil when absent: the statement then has no effect
	conds        []condition
}

func newStatement(index int, sid string) *statement {
	label := sid
	if label == "" {
		label = strconv.Itoa(index)
	}
	return &statement{index: index, sid: sid, label: label}
}

// principals is a compiled Principal or NotPrincipal.
type principals struct {
	any      bool     // "*" or {"AWS": "*"}
	accounts []string // from arn:aws:iam::ACCOUNT:root or a bare account id
	arns     []string // role, user and assumed-role ARNs, compared exactly
	services []string // Service principals: kept for diffs, never a keygate caller
}

func (p *principals) match(arn string) bool {
	if p.any {
		return true
	}
	for _, a := range p.arns {
		if a == arn {
			return true
		}
	}
	if len(p.accounts) > 0 {
		acct := arnAccount(arn)
		for _, a := range p.accounts {
			if a == acct {
				return true
			}
		}
	}
	return false
}

func (s *statement) principalMatches(arn string) bool {
	return s.principals.match(arn) != s.notPrincipal
}

func (s *statement) actionMatches(action string) bool {
	hit := s.names(action)
	if older, ok := grantedAlsoBy[action]; ok && !hit {
		hit = s.names(older)
	}
	return hit != s.notAction
}

// names reports whether one of the statement's action patterns matches.
func (s *statement) names(action string) bool {
	for _, a := range s.actions {
		if wildMatch(a, action, true) {
			return true
		}
	}
	return false
}

func (s *statement) resourceMatches(res string) bool {
	// A statement without Resource has no effect, as in KMS (nil never
	// matches).
	for _, r := range s.resources {
		if r == "*" || wildMatch(r, res, false) {
			return true
		}
	}
	return false
}
