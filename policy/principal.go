package policy

import (
	"regexp"
	"strings"
)

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	rootRE    = regexp.MustCompile(`^arn:aws[a-z-]*:iam::([0-9]{12}):root$`)
	iamRE     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:(role|user)/[A-Za-z0-9+=,.@_/-]+$`)
	stsRE     = regexp.MustCompile(`^arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/[A-Za-z0-9+=,.@_-]+/[A-Za-z0-9+=,.@_-]+$`)
	serviceRE = regexp.MustCompile(`^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$`)
)

// compilePrincipal checks Principal/NotPrincipal. IAM allows a wildcard
// only as the whole principal ("*"), never inside an ARN, so partial
// wildcards are refused rather than silently matching nothing.
func compilePrincipal(n *node, st *statement, ps *problems, cs *canonStatement) {
	p, np := n.get("Principal"), n.get("NotPrincipal")
	element := "Principal"
	switch {
	case p != nil && np != nil:
		ps.add("Principal", "Principal and NotPrincipal cannot both be present")
		return
	case p == nil && np == nil:
		ps.add("Principal", "missing (one of Principal or NotPrincipal is required)")
		return
	case np != nil:
		p, element, st.notPrincipal = np, "NotPrincipal", true
		if st.effect == Allow {
			ps.add("NotPrincipal", "may only be used with \"Effect\": \"Deny\"")
		}
	}
	cs.PrincipalKind = element
	cs.Principal = map[string][]string{}
	if p.kind == kString {
		if p.str != "*" {
			ps.add(element, `a string principal must be "*"; use {"AWS": "ARN"}`)
			return
		}
		st.principals.any = true
		cs.Principal["AWS"] = []string{"*"}
		return
	}
	if p.kind != kObject {
		ps.add(element, `must be "*" or an object such as {"AWS": [...]}`)
		return
	}
	for i, typ := range p.names {
		el := element + "." + typ
		vals := stringList(p.vals[i], el, ps)
		switch typ {
		case "AWS":
			for _, v := range vals {
				if c, ok := addAWSPrincipal(&st.principals, v, el, ps); ok {
					cs.Principal["AWS"] = append(cs.Principal["AWS"], c)
				}
			}
		case "Service":
			for _, v := range vals {
				if !serviceRE.MatchString(v) {
					ps.add(el, "%q is not a service principal", v)
					continue
				}
				st.principals.services = append(st.principals.services, v)
				cs.Principal["Service"] = append(cs.Principal["Service"], v)
			}
		default:
			ps.add(el, "principal type %q is not supported (use AWS or Service)", typ)
		}
	}
	if len(p.names) == 0 {
		ps.add(element, "names no principal")
	}
	for _, a := range sortedSet(st.principals.accounts) {
		ps.warn(element+".AWS", "account %s (its root ARN or id) means every principal keygate's config maps into that account, "+
			"not a delegation to IAM: there is no IAM policy behind it; name the role ARNs instead", a)
	}
}

// addAWSPrincipal adds one AWS principal and returns its canonical form
// (KMS stores a bare account id as the account's root ARN).
func addAWSPrincipal(pr *principals, v, el string, ps *problems) (string, bool) {
	switch {
	case v == "*":
		pr.any = true
		return v, true
	case strings.ContainsAny(v, "*?"):
		ps.add(el, `%q: IAM allows a wildcard only as the whole principal "*"`, v)
	case accountRE.MatchString(v):
		pr.accounts = append(pr.accounts, v)
		return "arn:aws:iam::" + v + ":root", true
	case rootRE.MatchString(v):
		pr.accounts = append(pr.accounts, rootRE.FindStringSubmatch(v)[1])
		return v, true
	case iamRE.MatchString(v), stsRE.MatchString(v):
		pr.arns = append(pr.arns, v)
		return v, true
	default:
		ps.add(el, "%q is not an account id, account root ARN, or role, user or assumed-role ARN", v)
	}
	return "", false
}
