package kmsserver

import (
	"encoding/json"
	"path"
	"strings"
)

// allowsPolicyUpdate is KMS's policy lockout safety check: without
// BypassPolicyLockoutSafetyCheck, a new key policy must let the caller
// call kms:PutKeyPolicy again. Allow statements are matched on Principal
// and Action (with wildcards); conditions are not evaluated.
func (s *Server) allowsPolicyUpdate(doc, caller string) bool {
	var p struct{ Statement json.RawMessage }
	if json.Unmarshal([]byte(doc), &p) != nil {
		return false
	}
	var stmts []map[string]any
	if json.Unmarshal(p.Statement, &stmts) != nil {
		var one map[string]any
		if json.Unmarshal(p.Statement, &one) != nil {
			return false
		}
		stmts = []map[string]any{one}
	}
	for _, st := range stmts {
		if st["Effect"] == "Allow" && s.principalMatches(st["Principal"], caller) && actionMatches(st["Action"], "kms:putkeypolicy") {
			return true
		}
	}
	return false
}

func (s *Server) principalMatches(p any, caller string) bool {
	if p == "*" {
		return true
	}
	m, ok := p.(map[string]any)
	if !ok {
		return false
	}
	root := "arn:aws:iam::" + s.Account + ":root"
	role := caller
	if _, rest, ok := strings.Cut(caller, ":assumed-role/"); ok {
		// A session's permissions come from its role.
		name, _, _ := strings.Cut(rest, "/")
		role = "arn:aws:iam::" + s.Account + ":role/" + name
	}
	for _, v := range strings_(m["AWS"]) {
		if v == "*" || v == root || v == s.Account || v == caller || v == role {
			return true
		}
	}
	return false
}

func actionMatches(a any, action string) bool {
	for _, pat := range strings_(a) {
		if ok, _ := path.Match(strings.ToLower(pat), action); ok {
			return true
		}
	}
	return false
}

// strings_ reads a policy value that is a string or a list of strings.
func strings_(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
