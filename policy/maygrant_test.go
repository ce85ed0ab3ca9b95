package policy

import "testing"

func TestMayAllow(t *testing.T) {
	const me = "arn:aws:iam::111122223333:role/admin"
	const key = "arn:aws:kms:eu-west-1:111122223333:key/k"
	doc := func(stmts string) *Policy {
		t.Helper()
		p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[` + stmts + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	admin := `{"Effect":"Allow","Principal":{"AWS":"` + me + `"},"Action":["kms:PutKeyPolicy","kms:DescribeKey"],"Resource":"*"}`
	for _, tc := range []struct {
		name, stmts string
		want        Grant
	}{
		{"administers only", admin, NoGrant},
		{"named", admin + `,{"Effect":"Allow","Principal":{"AWS":"` + me + `"},"Action":"kms:Sign","Resource":"*"}`, Granted},
		{"by wildcard action", `{"Effect":"Allow","Principal":{"AWS":"` + me + `"},"Action":"kms:*","Resource":"*"}`, Granted},
		{"to everyone", `{"Effect":"Allow","Principal":"*","Action":"kms:Sign","Resource":"*"}`, Granted},
		{"to the account", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Sign","Resource":"*"}`, Granted},
		{"under a condition", `{"Effect":"Allow","Principal":{"AWS":"` + me + `"},"Action":"kms:Sign","Resource":"*",` +
			`"Condition":{"StringEquals":{"kms:SigningAlgorithm":"ECDSA_SHA_256"}}}`, ConditionalGrant},
		{"denied outright", `{"Effect":"Allow","Principal":"*","Action":"kms:Sign","Resource":"*"},` +
			`{"Effect":"Deny","Principal":{"AWS":"` + me + `"},"Action":"kms:Sign","Resource":"*"}`, NoGrant},
		{"denied under a condition", `{"Effect":"Allow","Principal":"*","Action":"kms:Sign","Resource":"*"},` +
			`{"Effect":"Deny","Principal":{"AWS":"` + me + `"},"Action":"kms:Sign","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}`, Granted},
		{"to someone else", `{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:role/acs"},"Action":"kms:Sign","Resource":"*"}`, NoGrant},
		{"denied to all but acs", `{"Effect":"Allow","Principal":"*","Action":"kms:Sign","Resource":"*"},` +
			`{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:role/acs"},"Action":"kms:Sign","Resource":"*"}`, NoGrant},
	} {
		if got := doc(tc.stmts).MayAllow(me, "kms:Sign", key); got != tc.want {
			t.Errorf("%s: MayAllow = %d, want %d", tc.name, got, tc.want)
		}
	}
}
