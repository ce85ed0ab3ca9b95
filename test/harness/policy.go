package harness

import (
	"encoding/json"
	"fmt"

	"github.com/keygate/keygate/policy"
)

// DataActions are every data-plane action keygate has.
var DataActions = []string{"kms:Sign", "kms:Verify", "kms:GetPublicKey", "kms:Encrypt", "kms:Decrypt",
	"kms:GenerateDataKey", "kms:GenerateMac", "kms:VerifyMac", "kms:DeriveSharedSecret",
	"keygate:CreateAcsSession", "keygate:DecryptChallengeRequest", "keygate:EncryptChallengeResponse",
	"keygate:DecryptSdkEncData"}

// AdminActions administer a key without using it: a key whose policy
// grants its creator more waits for a second admin's approval.
var AdminActions = policy.AdminActions()

// ARN is the principal ARN an identity maps to.
func ARN(identity string) string { return fmt.Sprintf("arn:aws:iam::%s:role/%s", Account, identity) }

// OpenPolicy lets admin administer the key and every service identity use
// it: for tests that are not about policies.
func OpenPolicy() string {
	return Policy(
		Statement{Sid: "Admins", Principals: []string{ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		Statement{Sid: "Services", Principals: []string{ARN("acs"), ARN("3ds-server"), ARN("ds")}, Actions: DataActions},
	)
}

// Statement is a policy statement in short form.
type Statement struct {
	Sid        string
	Deny       bool
	Principals []string
	Actions    []string
	Condition  map[string]map[string]any
}

// Policy renders statements as a key-policy document.
func Policy(sts ...Statement) string {
	type stmt struct {
		Sid       string                    `json:"Sid"`
		Effect    string                    `json:"Effect"`
		Principal map[string][]string       `json:"Principal"`
		Action    []string                  `json:"Action"`
		Resource  string                    `json:"Resource"`
		Condition map[string]map[string]any `json:"Condition,omitempty"`
	}
	doc := struct {
		Version   string `json:"Version"`
		Statement []stmt `json:"Statement"`
	}{Version: "2012-10-17"}
	for _, s := range sts {
		eff := "Allow"
		if s.Deny {
			eff = "Deny"
		}
		doc.Statement = append(doc.Statement, stmt{Sid: s.Sid, Effect: eff, Principal: map[string][]string{"AWS": s.Principals},
			Action: s.Actions, Resource: "*", Condition: s.Condition})
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}
