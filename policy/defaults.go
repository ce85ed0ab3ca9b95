package policy

import (
	"encoding/json"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// Default returns the policy a key gets when its creator gives none, like
// KMS's default: the admins (or, with none, the account's root, meaning
// every principal of the account that keygate's config maps) get
// AdminActions on the key; nobody gets data-plane use until a policy
// grants it. The output is indented JSON that Parse accepts.
func Default(account string, adminARNs []string) []byte {
	admins := adminARNs
	if len(admins) == 0 {
		admins = []string{"arn:aws:iam::" + account + ":root"}
	}
	doc := map[string]any{
		"Version": "2012-10-17",
		"Id":      "keygate-default",
		"Statement": []any{map[string]any{
			"Sid":       "KeyAdministration",
			"Effect":    "Allow",
			"Principal": map[string]any{"AWS": admins},
			"Action":    adminActionList,
			"Resource":  "*",
		}},
	}
	b, _ := json.MarshalIndent(doc, "", "  ") // only strings: cannot fail
	return b
}

// CheckLockout is KMS's lockout safety check for PutKeyPolicy: it returns
// nil if at least one of admins could still call kms:PutKeyPolicy on the
// key under p, and a FailedPrecondition error otherwise. The check
// evaluates a request with only the principal, action, key and time set, so
// a policy that lets admins in only from certain addresses or with other
// conditions is judged as KMS would: without those values.
func CheckLockout(p *Policy, keyARN string, admins []string, now time.Time) error {
	for _, a := range admins {
		r := Request{Principal: a, Action: "kms:PutKeyPolicy", Resource: keyARN, CurrentTime: now}
		if p.Evaluate(&r).Allowed {
			return nil
		}
	}
	return kgerr.Errorf(kgerr.FailedPrecondition,
		"the policy would not let any admin principal call kms:PutKeyPolicy on the key; "+
			"fix the policy or bypass the lockout safety check")
}
