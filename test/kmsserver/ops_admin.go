package kmsserver

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

type keyPolicyRequest struct {
	KeyId                          string
	PolicyName                     string
	Policy                         *string // PutKeyPolicy only
	BypassPolicyLockoutSafetyCheck bool    // PutKeyPolicy only
}

func getKeyPolicy(s *Server, c *call) (any, *kmsError) {
	var req keyPolicyRequest
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		if req.Policy != nil {
			return nil, validation("Unknown field Policy in GetKeyPolicyRequest")
		}
		if req.PolicyName != "" && req.PolicyName != "default" {
			return nil, errf("NotFoundException", "Policy %s does not exist", req.PolicyName)
		}
		c.params["policyName"] = "default"
		return map[string]any{"Policy": k.policy, "PolicyName": "default"}, nil
	})
}

func putKeyPolicy(s *Server, c *call) (any, *kmsError) {
	var req keyPolicyRequest
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		v := &check{}
		v.required("Policy", req.Policy != nil)
		if req.Policy != nil {
			v.length("Policy", len(*req.Policy), 1, 32768)
		}
		v.enum("PolicyName", req.PolicyName, "default")
		if kerr := v.err(); kerr != nil {
			return nil, kerr
		}
		if kerr := checkPolicy(*req.Policy); kerr != nil {
			return nil, kerr
		}
		if !req.BypassPolicyLockoutSafetyCheck && !s.allowsPolicyUpdate(*req.Policy, c.caller) {
			return nil, lockedOut()
		}
		c.params["policyName"] = "default"
		c.params["policy"] = *req.Policy // CloudTrail logs the policy document
		k.policy = *req.Policy
		return map[string]any{}, nil
	})
}

// lockedOut is KMS's answer to a policy that fails the lockout check.
func lockedOut() *kmsError {
	return errf("MalformedPolicyDocumentException", "The new key policy will not allow you to update the key policy in the future.")
}

// checkPolicy accepts what KMS accepts in shape: a JSON object with a
// Statement list whose entries have Effect Allow or Deny.
func checkPolicy(doc string) *kmsError {
	var p struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &p); err != nil || len(p.Statement) == 0 {
		return errf("MalformedPolicyDocumentException", "Policy is not a JSON object with a Statement")
	}
	var stmts []map[string]any
	if err := json.Unmarshal(p.Statement, &stmts); err != nil {
		var one map[string]any
		if json.Unmarshal(p.Statement, &one) != nil {
			return errf("MalformedPolicyDocumentException", "Policy contains a statement that is not an object")
		}
		stmts = append(stmts, one)
	}
	for _, st := range stmts {
		if e, _ := st["Effect"].(string); e != "Allow" && e != "Deny" {
			return errf("MalformedPolicyDocumentException", "Policy contains an invalid Effect")
		}
	}
	return nil
}

// defaultPolicy is the key policy KMS gives a key created without one.
func (s *Server) defaultPolicy() string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",`+
		`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"}]}`, s.Account)
}

type createAliasRequest struct {
	AliasName   string
	TargetKeyId string
}

func createAlias(s *Server, c *call) (any, *kmsError) {
	var req createAliasRequest
	return withKey(c, s, &req, func() string { return req.TargetKeyId }, func(k *key) (any, *kmsError) {
		v := &check{}
		v.required("AliasName", req.AliasName != "")
		v.length("AliasName", len(req.AliasName), 1, 256)
		if kerr := v.err(); kerr != nil {
			return nil, kerr
		}
		c.params = map[string]any{"aliasName": req.AliasName, "targetKeyId": req.TargetKeyId}
		if !strings.HasPrefix(req.AliasName, "alias/") || strings.HasPrefix(req.AliasName, "alias/aws/") {
			return nil, errf("InvalidAliasNameException", "Alias must start with the prefix \"alias/\" and not \"alias/aws/\"")
		}
		if s.aliases[req.AliasName] != nil {
			return nil, errf("AlreadyExistsException", "An alias with the name %s already exists", s.aliasARN(req.AliasName))
		}
		if strings.HasPrefix(req.TargetKeyId, "alias/") || strings.Contains(req.TargetKeyId, ":alias/") {
			return nil, validation("Value at 'targetKeyId' must be a key id or key ARN")
		}
		s.aliases[req.AliasName] = &alias{name: req.AliasName, arn: s.aliasARN(req.AliasName), target: k.id, created: now()}
		c.resources = append(c.resources, s.aliasARN(req.AliasName))
		return map[string]any{}, nil
	})
}

type listRequest struct {
	KeyId  string
	Limit  *int
	Marker string
}

func listAliases(s *Server, c *call) (any, *kmsError) {
	var req listRequest
	if kerr := decode(c, &req); kerr != nil {
		return nil, kerr
	}
	if req.Marker != "" {
		return nil, errf("InvalidMarkerException", "this server returns every alias in one page")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target := ""
	if req.KeyId != "" {
		c.params["keyId"] = req.KeyId
		k, kerr := s.resolve(req.KeyId)
		if kerr != nil {
			return nil, kerr
		}
		target = k.id
	}
	out := []map[string]any{}
	for _, a := range s.aliases {
		if target == "" || a.target == target {
			out = append(out, map[string]any{"AliasName": a.name, "AliasArn": a.arn, "TargetKeyId": a.target,
				"CreationDate": epoch(a.created), "LastUpdatedDate": epoch(a.created)})
		}
	}
	slices.SortFunc(out, func(a, b map[string]any) int {
		return strings.Compare(a["AliasName"].(string), b["AliasName"].(string))
	})
	return map[string]any{"Aliases": out, "Truncated": false}, nil
}

type tagResourceRequest struct {
	KeyId string
	Tags  []tag
}

func tagResource(s *Server, c *call) (any, *kmsError) {
	var req tagResourceRequest
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		v := &check{}
		v.required("Tags", req.Tags != nil)
		for _, t := range req.Tags {
			v.length("TagKey", len(t.TagKey), 1, 128)
			v.length("TagValue", len(t.TagValue), 0, 256)
		}
		if kerr := v.err(); kerr != nil {
			return nil, kerr
		}
		for _, t := range req.Tags {
			i := slices.IndexFunc(k.tags, func(o tag) bool { return o.TagKey == t.TagKey })
			if i >= 0 {
				k.tags[i] = t
			} else {
				k.tags = append(k.tags, t)
			}
		}
		c.params["tags"] = tagParams(req.Tags)
		return map[string]any{}, nil
	})
}

func listResourceTags(s *Server, c *call) (any, *kmsError) {
	var req listRequest
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		if req.Marker != "" {
			return nil, errf("InvalidMarkerException", "this server returns every tag in one page")
		}
		return map[string]any{"Tags": append([]tag{}, k.tags...), "Truncated": false}, nil
	})
}

// tagParams are tags as CloudTrail spells them.
func tagParams(tags []tag) []map[string]string {
	out := make([]map[string]string, 0, len(tags))
	for _, t := range tags {
		out = append(out, map[string]string{"tagKey": t.TagKey, "tagValue": t.TagValue})
	}
	return out
}
