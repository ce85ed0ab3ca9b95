package policy

import (
	"strings"
	"testing"
)

const (
	testAccount = "111122223333"
	testKeyARN  = "arn:aws:kms:us-west-2:111122223333:key/acs-signing"
)

// doc wraps statements (JSON objects, comma-separated) in a key policy.
func doc(statements ...string) []byte {
	return []byte(`{"Version": "2012-10-17", "Statement": [` + strings.Join(statements, ",") + `]}`)
}

func mustParse(t testing.TB, data []byte) *Policy {
	t.Helper()
	p, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return p
}

// req builds a request on testKeyARN; the caller sets the rest.
func req(principal, action string) *Request {
	return &Request{Principal: principal, Action: action, Resource: testKeyARN}
}
