package report

import (
	"slices"
	"sort"
	"time"

	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/policy"
)

// Verdicts of the access matrix.
const (
	Allowed     = "allow"       // the policy allows it outright
	Conditional = "conditional" // an Allow statement applies when its conditions hold
	Denied      = "deny"        // an explicit Deny statement applies
	NotAllowed  = ""            // no statement allows it
)

// AccessRow is one cell of the access matrix.
type AccessRow struct {
	Key, Principal, Action string
	Verdict                string
	Sid                    string   // the statement that decided (or would allow)
	Conditions             []string // for Conditional: the condition keys it needs
}

// actionsFor are the actions the matrix asks about for a key of a usage:
// what the key is for, the 3DS calls built on it, and its administration.
func actionsFor(usage string) []string {
	var acts []string
	switch usage {
	case "SIGN_VERIFY":
		acts = []string{"kms:Sign", "kms:Verify", "kms:GetPublicKey", "keygate:CreateAcsSession"}
	case "ENCRYPT_DECRYPT":
		acts = []string{"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "keygate:DecryptSdkEncData",
			"keygate:DecryptChallengeRequest", "keygate:EncryptChallengeResponse"}
	case "GENERATE_VERIFY_MAC":
		acts = []string{"kms:GenerateMac", "kms:VerifyMac"}
	case "KEY_AGREEMENT":
		acts = []string{"kms:DeriveSharedSecret", "kms:GetPublicKey", "keygate:DecryptSdkEncData"}
	}
	return append(acts, "kms:PutKeyPolicy", "kms:EnableKey", "kms:DisableKey", "keygate:ImportCertificate")
}

// principals is every configured principal, once, sorted.
func principals(in Input) []string {
	var all []string
	for _, l := range [][]string{in.Callers, in.Admins, in.Auditors} {
		for _, p := range l {
			if !slices.Contains(all, p) {
				all = append(all, p)
			}
		}
	}
	sort.Strings(all)
	return all
}

// accessMatrix evaluates each key's policy for every configured principal
// and each action the key's usage makes meaningful. An Allow whose
// conditions the bare request cannot satisfy (an encryption context, an
// algorithm) is reported as conditional with the condition keys it needs.
func accessMatrix(in Input) []AccessRow {
	var out []AccessRow
	ps := principals(in)
	for _, k := range in.Keys {
		if k.Policy == "" {
			continue
		}
		pol, err := policy.Parse([]byte(k.Policy))
		if err != nil {
			continue // stored policies were validated when put; the raw text is still shown
		}
		origin := "AWS_CLOUDHSM"
		if k.BackendType == "kms" {
			origin = "AWS_KMS"
		}
		for _, p := range ps {
			for _, a := range actionsFor(k.Usage) {
				req := &policy.Request{Principal: p, Action: a, Resource: k.ARN, KeySpec: keys.Spec(k.Spec),
					KeyUsage: keys.Usage(k.Usage), KeyOrigin: origin, CurrentTime: in.Generated.Truncate(time.Second)}
				c := cell(k.Name, p, a, pol.Explain(req))
				if k.Own && !policy.OwnKeyReads[a] {
					// keygated enforces this whatever the policy says.
					c = AccessRow{Key: k.Name, Principal: p, Action: a, Verdict: Denied, Sid: "keygate:OwnKey"}
				}
				out = append(out, c)
			}
		}
	}
	return out
}

func cell(key, principal, action string, ex policy.Explanation) AccessRow {
	r := AccessRow{Key: key, Principal: principal, Action: action}
	switch ex.Decision.Effect {
	case policy.Allow:
		r.Verdict, r.Sid = Allowed, ex.Decision.Sid
		return r
	case policy.Deny:
		r.Verdict, r.Sid = Denied, ex.Decision.Sid
		return r
	}
	for _, t := range ex.Statements {
		if t.Effect != policy.Allow || !t.Principal || !t.Action || !t.Resource || t.Matched {
			continue
		}
		r.Verdict, r.Sid = Conditional, t.Sid
		for _, c := range t.Conditions {
			if !c.Held {
				r.Conditions = append(r.Conditions, c.Operator+" "+c.Key)
			}
		}
		return r
	}
	return r
}
