package policy

import "testing"

// keygate:GetCertificate was authorized as kms:DescribeKey until it got an
// action of its own: a document naming kms:DescribeKey (or kms:*) keeps
// meaning what it meant for it, in Action, NotAction, Allow and Deny,
// while a statement may also grant or deny keygate:GetCertificate alone.
func TestSplitActionKeepsOlderGrants(t *testing.T) {
	const ds = "arn:aws:iam::111122223333:role/ds"
	allow := func(action string) string {
		return `{"Sid": "A", "Effect": "Allow", "Principal": {"AWS": "` + ds + `"}, "Action": "` + action + `", "Resource": "*"}`
	}
	for _, c := range []struct {
		name string
		doc  []byte
		want Effect
	}{
		{"kms:DescribeKey grants it", doc(allow("kms:DescribeKey")), Allow},
		{"kms:* grants it, as it granted DescribeKey", doc(allow("kms:*")), Allow},
		{"keygate:GetCertificate alone", doc(allow("keygate:GetCertificate")), Allow},
		{"kms:GetPublicKey does not", doc(allow("kms:GetPublicKey")), ImplicitDeny},
		{"a Deny of kms:DescribeKey denies it", doc(allow("keygate:GetCertificate"),
			`{"Effect": "Deny", "Principal": "*", "Action": "kms:DescribeKey", "Resource": "*"}`), Deny},
		{"a Deny of keygate:GetCertificate wins over DescribeKey", doc(allow("kms:DescribeKey"),
			`{"Effect": "Deny", "Principal": "*", "Action": "keygate:GetCertificate", "Resource": "*"}`), Deny},
		{"NotAction kms:DescribeKey leaves it out", doc(
			`{"Effect": "Allow", "Principal": {"AWS": "` + ds + `"}, "NotAction": "kms:DescribeKey", "Resource": "*"}`), ImplicitDeny},
		{"NotAction of another action takes it in", doc(
			`{"Effect": "Allow", "Principal": {"AWS": "` + ds + `"}, "NotAction": "kms:Sign", "Resource": "*"}`), Allow},
	} {
		p := mustParse(t, c.doc)
		if got := p.Evaluate(req(ds, "keygate:GetCertificate")).Effect; got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// The older action is not widened the other way.
	p := mustParse(t, doc(allow("keygate:GetCertificate")))
	if got := p.Evaluate(req(ds, "kms:DescribeKey")).Effect; got != ImplicitDeny {
		t.Errorf("keygate:GetCertificate granted kms:DescribeKey: %s", got)
	}
}
