package policy_test

import (
	"fmt"

	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/policy"
)

// The ACS may sign with ECDSA_SHA_256 only; the 3DS server may not sign.
func Example() {
	p, err := policy.Parse([]byte(`{
	  "Version": "2012-10-17",
	  "Statement": [{
	    "Sid": "AcsSignsWithP256",
	    "Effect": "Allow",
	    "Principal": {"AWS": "arn:aws:iam::111122223333:role/acs"},
	    "Action": "kms:Sign",
	    "Resource": "*",
	    "Condition": {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}
	  }]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	key := "arn:aws:kms:eu-west-1:111122223333:key/acs-signing"
	for _, r := range []policy.Request{
		{Principal: "arn:aws:iam::111122223333:role/acs", Action: "kms:Sign", Resource: key, SigningAlgorithm: keys.ECDSASHA256},
		{Principal: "arn:aws:iam::111122223333:role/acs", Action: "kms:Sign", Resource: key, SigningAlgorithm: keys.RSASSAPSSSHA256},
		{Principal: "arn:aws:iam::111122223333:role/3ds-server", Action: "kms:Sign", Resource: key, SigningAlgorithm: keys.ECDSASHA256},
	} {
		d := p.Evaluate(&r)
		fmt.Printf("%v %v %q\n", d.Allowed, d.Effect, d.Sid)
	}
	// Output:
	// true Allow "AcsSignsWithP256"
	// false ImplicitDeny ""
	// false ImplicitDeny ""
}

func ExampleValidate() {
	for _, pr := range policy.Validate([]byte(`{"Version": "2012-10-17", "Statement": [
	  {"Sid": "Use", "Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "kms:Sgin"}]}`)) {
		fmt.Println(pr)
	}
	// Output:
	// Statement[0] (Sid "Use"): NotPrincipal: may only be used with "Effect": "Deny"
	// Statement[0] (Sid "Use"): Action: unknown action "kms:Sgin"
}

func ExampleDiff() {
	keygate, _ := policy.Parse([]byte(`{"Version": "2012-10-17", "Statement": [
	  {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": ["kms:GetKeyPolicy", "kms:PutKeyPolicy"], "Resource": "*"}]}`))
	kms, _ := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow",
	  "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:GetKeyPolicy","Resource":"*"}]}`))
	for _, d := range policy.Diff(keygate, kms) {
		fmt.Println(d)
	}
	// Output:
	// statement "Admin": Action: only in the first: kms:PutKeyPolicy
}
