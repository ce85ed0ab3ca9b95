package server

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// RoleRules are what client certificates must carry, per role
// (tls.roles): PCI DSS 8.4.2 wants administrators' access multi-factor, so
// an admin's certificate can be required to come from a separate admin CA
// (one that issues keys on tokens only) and to carry that CA's policy OID.
// The role of a caller is its principal ARN's: admins, auditors (both, if
// listed in both: then both rules apply), else principals.
type RoleRules struct {
	Principals *RoleRule `yaml:"principals"`
	Admins     *RoleRule `yaml:"admins"`
	Auditors   *RoleRule `yaml:"auditors"`
}

// RoleRule is one role's requirement; empty fields require nothing.
type RoleRule struct {
	// CAFile is the CA bundle (PEM) the role's certificates must chain to.
	// Its certificates are also trusted at the handshake, beside client_ca.
	CAFile string `yaml:"ca_file"`
	// RequirePolicyOID is a certificate policy (dotted OID) that must be
	// valid for the certificate's chain (RFC 5280 policy validation: the
	// leaf asserts it, and any intermediate asserts it or anyPolicy).
	RequirePolicyOID string `yaml:"require_policy_oid"`
}

// each calls f with every configured rule and its role's name.
func (r RoleRules) each(f func(role string, rule *RoleRule)) {
	for _, x := range []struct {
		role string
		rule *RoleRule
	}{{"principals", r.Principals}, {"admins", r.Admins}, {"auditors", r.Auditors}} {
		if x.rule != nil {
			f(x.role, x.rule)
		}
	}
}

// caFiles are the rules' CA files, which the handshake trusts too.
func (r RoleRules) caFiles() []string {
	var out []string
	r.each(func(_ string, rule *RoleRule) {
		if rule.CAFile != "" && !slices.Contains(out, rule.CAFile) {
			out = append(out, rule.CAFile)
		}
	})
	return out
}

func (r RoleRules) problems() []string {
	var p []string
	r.each(func(role string, rule *RoleRule) {
		if rule.CAFile == "" && rule.RequirePolicyOID == "" {
			p = append(p, fmt.Sprintf("tls.roles.%s: set ca_file, require_policy_oid or both", role))
		}
		if rule.RequirePolicyOID != "" {
			if _, err := x509.ParseOID(rule.RequirePolicyOID); err != nil {
				p = append(p, fmt.Sprintf("tls.roles.%s.require_policy_oid %q is not a dotted OID", role, rule.RequirePolicyOID))
			}
		}
	})
	return p
}

// roleCheck is one role's rule, ready to check certificates with.
type roleCheck struct {
	role    string
	roots   *x509.CertPool // the role's CA, or every client CA
	ownCA   bool           // roots is the role's own ca_file
	policy  *x509.OID
	oidText string
}

// anyPolicy is RFC 5280's wildcard policy, which a CA may assert instead.
var anyPolicy, _ = x509.ParseOID("2.5.29.32.0")

// asserted reports whether every certificate of a verified chain below
// its trust anchor asserts the policy: the leaf itself, and each
// intermediate it or anyPolicy. (Go's policy validation alone accepts a
// leaf with no policies at all, as RFC 5280 does without
// initial-explicit-policy, which Go does not offer.)
func (c *roleCheck) asserted(chain []*x509.Certificate) bool {
	for i, cert := range chain[:max(1, len(chain)-1)] {
		ok := slices.ContainsFunc(cert.Policies, func(o x509.OID) bool {
			return o.Equal(*c.policy) || (i > 0 && o.Equal(anyPolicy))
		})
		if !ok {
			return false
		}
	}
	return true
}

// roleChecks are the compiled rules and who is in which role; they are
// swapped whole with the rest of the live configuration on reload.
type roleChecks struct {
	admins, auditors []string
	byRole           map[string]*roleCheck
}

// newRoleChecks compiles cfg's rules; clientCAs is the handshake's pool,
// the roots of a rule that requires a policy but names no CA.
func newRoleChecks(cfg *Config, clientCAs *x509.CertPool) (*roleChecks, error) {
	rc := &roleChecks{admins: cfg.Admins, auditors: cfg.Auditors, byRole: map[string]*roleCheck{}}
	var err error
	cfg.TLS.Roles.each(func(role string, rule *RoleRule) {
		c := &roleCheck{role: role, roots: clientCAs, oidText: rule.RequirePolicyOID}
		if rule.CAFile != "" {
			pool, e := loadPool(rule.CAFile)
			if e != nil && err == nil {
				err = fmt.Errorf("tls.roles.%s.ca_file: %w", role, e)
			}
			c.roots, c.ownCA = pool, true
		}
		if rule.RequirePolicyOID != "" {
			oid, e := x509.ParseOID(rule.RequirePolicyOID)
			if e != nil && err == nil {
				err = fmt.Errorf("tls.roles.%s.require_policy_oid: %w", role, e)
			}
			c.policy = &oid
		}
		rc.byRole[role] = c
	})
	return rc, err
}

// rolesOf are the roles whose rules apply to a principal ARN.
func (rc *roleChecks) rolesOf(arn string) []string {
	var roles []string
	if slices.Contains(rc.admins, arn) {
		roles = append(roles, "admins")
	}
	if slices.Contains(rc.auditors, arn) {
		roles = append(roles, "auditors")
	}
	if len(roles) == 0 {
		roles = append(roles, "principals")
	}
	return roles
}

// check refuses a certificate chain (leaf first, as the client sent it)
// that does not meet the rules of arn's roles. It depends on nothing but
// the chain, the ARN and the configuration, so a caller may cache its
// answer per connection.
// check verifies chain against the rules of arn's roles. It costs a
// chain verification (hundreds of microseconds): identify runs it once per
// connection and live configuration, not per call.
func (rc *roleChecks) check(arn string, chain []*x509.Certificate, now time.Time) error {
	if rc == nil || len(rc.byRole) == 0 || len(chain) == 0 {
		return nil
	}
	return rc.verify(arn, chain, now)
}

func (rc *roleChecks) verify(arn string, chain []*x509.Certificate, now time.Time) error {
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, role := range rc.rolesOf(arn) {
		c := rc.byRole[role]
		if c == nil {
			continue
		}
		chains, err := chain[0].Verify(x509.VerifyOptions{Roots: c.roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err != nil {
			if c.ownCA {
				return kgerr.Errorf(kgerr.PermissionDenied, "the client certificate of %s does not chain to the %s' CA (tls.roles.%s.ca_file)", arn, role, role)
			}
			return kgerr.Errorf(kgerr.PermissionDenied, "the client certificate of %s does not chain to a client CA", arn)
		}
		if c.policy != nil && !slices.ContainsFunc(chains, c.asserted) {
			return kgerr.Errorf(kgerr.PermissionDenied, "the client certificate of %s does not carry certificate policy %s, which %s need (tls.roles.%s.require_policy_oid)", arn, c.oidText, role, role)
		}
	}
	return nil
}
