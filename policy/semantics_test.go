package policy

import (
	"strings"
	"testing"
)

// The AWS-documented semantics of issue 11 item 9, each case citing the
// page and sentence it follows.
//
//	[putkeypolicy] https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html (Policy)
//	[operators]    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
//	[conditions]   https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html
//	[grants]       https://docs.aws.amazon.com/kms/latest/APIReference/API_GrantConstraints.html
func TestAWSDocumentedSemantics(t *testing.T) {
	const acs = "arn:aws:iam::111122223333:role/acs"
	allowSign := `{"Sid": "Sign", "Effect": "Allow", "Principal": {"AWS": "` + acs + `"}, "Action": "kms:Sign", "Resource": "*"}`
	tests := []struct {
		name, cite string
		doc        []byte
		ctx        map[string]string
		want       Effect
	}{
		// [putkeypolicy] "If either of the required Resource or Action elements
		// are missing from a key policy statement, the policy statement has no
		// effect."
		{"Allow without Resource grants nothing", "putkeypolicy",
			doc(`{"Effect": "Allow", "Principal": {"AWS": "` + acs + `"}, "Action": "kms:Sign"}`), nil, ImplicitDeny},
		{"Deny without Resource denies nothing", "putkeypolicy",
			doc(allowSign, `{"Effect": "Deny", "Principal": "*", "Action": "kms:Sign"}`), nil, Allow},
		// [operators] StringLike: "The value can include a multi-character
		// match wildcard (*) or a single-character match wildcard (?)
		// anywhere in the string." One character, not one byte of UTF-8.
		{"? matches é, so the Deny applies", "operators",
			doc(allowSign, `{"Effect": "Deny", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
				"Condition": {"StringLike": {"kms:EncryptionContext:city": "caf?"}}}`), map[string]string{"city": "café"}, Deny},
		{"?? does not match the one character é", "operators",
			doc(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
				"Condition": {"StringLike": {"kms:EncryptionContext:city": "caf??"}}}`), map[string]string{"city": "café"}, ImplicitDeny},
		{"* then ? across a multibyte character", "operators",
			doc(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
				"Condition": {"StringNotLike": {"kms:EncryptionContext:city": "*?f"}}}`), map[string]string{"city": "éé"}, Allow},
		// [conditions] kms:EncryptionContext:context-key: "The key name is not
		// case sensitive"; the value is compared as the operator says
		// (StringEquals is case-sensitive).
		{"context key name matches in any case", "conditions",
			doc(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
				"Condition": {"StringEquals": {"kms:EncryptionContext:Tenant": "A"}}}`), map[string]string{"tenant": "A"}, Allow},
		{"context value is case-sensitive under StringEquals", "conditions",
			doc(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
				"Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "A"}}}`), map[string]string{"tenant": "a"}, ImplicitDeny},
		// [grants] "To avoid confusion, do not use multiple encryption context
		// pairs that differ only by case." keygate refuses them: the Deny of
		// issue 11 item 6 can no longer be skipped by map order.
		{"case twins are denied whatever the policy says", "grants",
			doc(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "*"}`,
				`{"Effect": "Deny", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
				"Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "B"}}}`),
			map[string]string{"tenant": "B", "Tenant": "A"}, Deny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.doc)
			r := req(acs, "kms:Sign")
			r.EncryptionContext = tc.ctx
			for range 50 { // map order must not matter
				if d := p.Evaluate(r); d.Effect != tc.want {
					t.Fatalf("[%s] got %v, want %v\n%s", tc.cite, d.Effect, tc.want, p.Explain(r))
				}
			}
		})
	}
}

func TestAWSDocumentedRefusals(t *testing.T) {
	stmt := func(cond string) []byte {
		return doc(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*", "Condition": ` + cond + `}`)
	}
	tests := []struct {
		name string
		doc  []byte
		want string
	}{
		// [putkeypolicy] "A key policy document can include only the following
		// characters: Printable ASCII characters from the space character
		// (\u0020) through the end of the ASCII character range. Printable
		// characters in the Basic Latin and Latin-1 Supplement character set
		// (through \u00FF). The tab (\u0009), line feed (\u000A), and carriage
		// return (\u000D) special characters."
		{"a CJK character", []byte(`{"Version": "2012-10-17", "Id": "鍵", "Statement": []}`), "character U+9375"},
		{"an emoji in a Sid", doc(`{"Sid": "🔑", "Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "*"}`), "character U+1F511"},
		{"a raw control character", []byte("{\"Version\": \"2012-10-17\",\x0b\"Statement\": []}"), "character U+000B"},
		{"a C1 control", []byte("{\"Version\": \"2012-10-17\", \"Id\": \"a\u0085\", \"Statement\": []}"), "character U+0085"},
		// [conditions] "Multivalued condition keys require a set operator."
		{"plain operator on kms:EncryptionContextKeys", stmt(`{"StringEquals": {"kms:EncryptionContextKeys": "tenant"}}`),
			"kms:EncryptionContextKeys is multivalued: say ForAnyValue:StringEquals or ForAllValues:StringEquals"},
		{"plain negated operator too", stmt(`{"StringNotLike": {"kms:encryptioncontextkeys": "x*"}}`), "is multivalued"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := Validate(tc.doc)
			if len(ps) == 0 || !strings.Contains(ps[0].String(), tc.want) {
				t.Fatalf("problems %v, want one containing %q", ps, tc.want)
			}
			if _, err := Parse(tc.doc); err == nil {
				t.Fatal("Parse accepted it")
			}
		})
	}
	// Still accepted: Latin-1, tab/CR/LF, Null on the multivalued key, set operators.
	for _, d := range [][]byte{
		[]byte("{\"Version\":\t\"2012-10-17\",\r\n\"Id\": \"clé ÿ\", \"Statement\": {\"Effect\": \"Allow\", \"Principal\": \"*\", \"Action\": \"kms:Sign\", \"Resource\": \"*\"}}"),
		stmt(`{"Null": {"kms:EncryptionContextKeys": "false"}, "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "tenant"}}`),
	} {
		if ps := Validate(d); len(ps) != 0 {
			t.Errorf("refused %s: %v", d, ps)
		}
	}
}

func TestCheckEncryptionContext(t *testing.T) {
	if err := CheckEncryptionContext(map[string]string{"tenant": "secret-B", "TENANT": "secret-A"}); err == nil ||
		!strings.Contains(err.Error(), `"TENANT"`) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("case twins: %v (must name a key, never a value)", err)
	}
	if err := CheckEncryptionContext(map[string]string{"tenant": "B", "purpose": "A"}); err != nil {
		t.Fatal(err)
	}
}

// An account principal and a statement without Resource are legal, and
// warned about.
func TestWarnings(t *testing.T) {
	w := Warnings(doc(`{"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:root", "444455556666"]}, "Action": "kms:Sign", "Resource": "*"}`,
		`{"Sid": "NoRes", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/acs"}, "Action": "kms:Sign"}`))
	if len(w) != 3 {
		t.Fatalf("warnings %v, want 3", w)
	}
	for i, want := range []string{`Statement[0] (Sid "Root"): Principal.AWS: account 111122223333`,
		`Statement[0] (Sid "Root"): Principal.AWS: account 444455556666`, `Statement[1] (Sid "NoRes"): Resource: missing: the statement has no effect`} {
		if !strings.HasPrefix(w[i].String(), want) {
			t.Errorf("warning %d = %q, want %q…", i, w[i], want)
		}
	}
	if w := Warnings(Default(testAccount, []string{"arn:aws:iam::111122223333:role/admin"})); len(w) != 0 {
		t.Errorf("the default policy has warnings: %v", w)
	}
}
