package policy

import (
	"net/netip"
	"testing"
	"time"

	"github.com/keygate/keygate/keys"
)

// Examples from the AWS documentation, each with the outcome the page
// states. Unless noted the statements are quoted from
// https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html
// (read via the awsdocs/aws-kms-developer-guide source, conditions-kms.md).
func TestDocExamples(t *testing.T) {
	const (
		exampleApp = "arn:aws:iam::111122223333:role/RoleForExampleApp"
		alice      = "arn:aws:iam::712816755609:user/alice"
		testers    = "arn:aws:iam::111122223333:role/testers"
		user       = "arn:aws:iam::111122223333:user/ExampleUser"
		developer  = "arn:aws:iam::111122223333:role/developer"
		exampleRol = "arn:aws:iam::111122223333:role/ExampleRole"
	)
	// "allows principals who can assume the role to use the KMS key in a
	// GenerateDataKey request only when the encryption context in the request
	// includes the AppName:ExampleApp pair. Other encryption context pairs are
	// permitted." "The key name is not case sensitive."
	appName := `{"Effect": "Allow", "Principal": {"AWS": "` + exampleApp + `"},
		"Action": "kms:GenerateDataKey", "Resource": "*",
		"Condition": {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"}}}`
	// "require the AppName=ExampleApp encryption context pair ... allow only
	// the AppName encryption context key".
	appNameOnly := `{"Effect": "Allow", "Principal": {"AWS": "` + alice + `"},
		"Action": "kms:GenerateDataKey", "Resource": "*",
		"Condition": {"StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"},
		"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName"]}}}`
	// "forbid the principal from using the KMS key if the encryption context
	// in the request includes a Stage=Restricted or Stage=Production pair".
	denyStage := `{"Effect": "Deny", "Principal": {"AWS": "` + exampleApp + `"},
		"Action": "kms:GenerateDataKey", "Resource": "*",
		"Condition": {"StringEquals": {"kms:EncryptionContext:Stage": ["Restricted", "Production"]}}}`
	allowGDK := `{"Effect": "Allow", "Principal": {"AWS": "` + exampleApp + `"},
		"Action": "kms:GenerateDataKey", "Resource": "*"}`
	// "requires two encryption context pairs, Department=IT and Project=Alpha".
	both := `{"Effect": "Allow", "Principal": {"AWS": "` + exampleApp + `"},
		"Action": "kms:Decrypt", "Resource": "*",
		"Condition": {"StringEquals": {"kms:EncryptionContext:Department": "IT",
		"kms:EncryptionContext:Project": "Alpha"}}}`
	// "allows ... only when at least one of the encryption context pairs in the
	// request includes the AppName key, regardless of its value".
	anyKey := `{"Effect": "Allow", "Principal": {"AWS": "` + exampleApp + `"},
		"Action": ["kms:Encrypt", "kms:GenerateDataKey*"], "Resource": "*",
		"Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}}}`
	// "allow access to a KMS key only when encryption context in the API
	// request is not null".
	notNull := `{"Effect": "Allow", "Principal": {"AWS": "` + exampleApp + `"},
		"Action": ["kms:Encrypt", "kms:GenerateDataKey*"], "Resource": "*",
		"Condition": {"Null": {"kms:EncryptionContextKeys": false}}}`
	// "sign messages only when the signing algorithm ... is an RSASSA_PSS algorithm".
	pss := `{"Effect": "Allow", "Principal": {"AWS": "` + testers + `"},
		"Action": "kms:Sign", "Resource": "*",
		"Condition": {"StringLike": {"kms:SigningAlgorithm": "RSASSA_PSS*"}}}`
	// "allow a user to ... sign a message, but not a message digest".
	raw := `{"Effect": "Allow", "Principal": {"AWS": "` + user + `"},
		"Action": "kms:Sign", "Resource": "*",
		"Condition": {"StringEquals": {"kms:MessageType": "RAW"}}}`
	// "permitted only when the value of the KeyId parameter in the request is
	// alias/finance-key".
	alias := `{"Sid": "Key policy using a request alias condition", "Effect": "Allow",
		"Principal": {"AWS": "` + developer + `"}, "Action": "kms:GenerateDataKey", "Resource": "*",
		"Condition": {"StringEquals": {"kms:RequestAlias": "alias/finance-key"}}}`
	// "prohibits principals who can assume the ExampleRole role from using this
	// KMS key ... unless the encryption algorithm in the request is RSAES_OAEP_SHA_256".
	oaepOnly := `{"Sid": "Allow only one encryption algorithm with this asymmetric KMS key",
		"Effect": "Deny", "Principal": {"AWS": "` + exampleRol + `"},
		"Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*"], "Resource": "*",
		"Condition": {"StringNotEquals": {"kms:EncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}}`
	allowRole := `{"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": "` + exampleRol + `"},
		"Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}`
	// kms:CallerAccount: Principal "*" with the account condition "effectively
	// allow[s] access to all identities in AWS account 111122223333", and
	// kms:ViaService limits it to requests through EBS (never true in keygate).
	callerAcct := `{"Sid": "Allow access through EBS for all principals in the account that are authorized to use EBS",
		"Effect": "Allow", "Principal": {"AWS": "*"},
		"Condition": {"StringEquals": {"kms:CallerAccount": "111122223333", "kms:ViaService": "ec2.us-west-2.amazonaws.com"}},
		"Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"],
		"Resource": "*"}`
	callerAcctOnly := `{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:Decrypt", "Resource": "*",
		"Condition": {"StringEquals": {"kms:CallerAccount": "111122223333"}}}`

	ctx := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		policy []byte
		r      Request
		want   Effect
	}{
		{"EC pair present", doc(appName), Request{Principal: exampleApp, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("AppName", "ExampleApp", "Other", "x")}, Allow},
		{"EC key name case-insensitive", doc(appName), Request{Principal: exampleApp, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("appname", "ExampleApp")}, Allow},
		{"EC value case-sensitive", doc(appName), Request{Principal: exampleApp, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("AppName", "exampleapp")}, ImplicitDeny},
		{"EC absent", doc(appName), Request{Principal: exampleApp, Action: "kms:GenerateDataKey"}, ImplicitDeny},
		{"EC other action", doc(appName), Request{Principal: exampleApp, Action: "kms:Decrypt",
			EncryptionContext: ctx("AppName", "ExampleApp")}, ImplicitDeny},
		{"only AppName: exact", doc(appNameOnly), Request{Principal: alice, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("AppName", "ExampleApp")}, Allow},
		{"only AppName: extra key", doc(appNameOnly), Request{Principal: alice, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("AppName", "ExampleApp", "Stage", "Test")}, ImplicitDeny},
		{"only AppName: none", doc(appNameOnly), Request{Principal: alice, Action: "kms:GenerateDataKey"}, ImplicitDeny},
		{"deny Stage=Restricted", doc(allowGDK, denyStage), Request{Principal: exampleApp, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("Stage", "Restricted")}, Deny},
		{"deny Stage=Production", doc(allowGDK, denyStage), Request{Principal: exampleApp, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("Stage", "Production")}, Deny},
		{"Stage=Test allowed", doc(allowGDK, denyStage), Request{Principal: exampleApp, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("Stage", "Test")}, Allow},
		{"two pairs required: both", doc(both), Request{Principal: exampleApp, Action: "kms:Decrypt",
			EncryptionContext: ctx("Department", "IT", "Project", "Alpha", "More", "ok")}, Allow},
		{"two pairs required: one", doc(both), Request{Principal: exampleApp, Action: "kms:Decrypt",
			EncryptionContext: ctx("Department", "IT")}, ImplicitDeny},
		{"ForAnyValue AppName+Project", doc(anyKey), Request{Principal: exampleApp, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("AppName", "Helper", "Project", "Alpha")}, Allow},
		{"ForAnyValue only Project", doc(anyKey), Request{Principal: exampleApp, Action: "kms:GenerateDataKey",
			EncryptionContext: ctx("Project", "Alpha")}, ImplicitDeny},
		{"ForAnyValue no context", doc(anyKey), Request{Principal: exampleApp, Action: "kms:GenerateDataKey"}, ImplicitDeny},
		{"ForAnyValue key case-sensitive", doc(anyKey), Request{Principal: exampleApp, Action: "kms:Encrypt",
			EncryptionContext: ctx("appname", "x")}, ImplicitDeny},
		{"Null false: context given", doc(notNull), Request{Principal: exampleApp, Action: "kms:Encrypt",
			EncryptionContext: ctx("k", "v")}, Allow},
		{"Null false: no context", doc(notNull), Request{Principal: exampleApp, Action: "kms:Encrypt"}, ImplicitDeny},
		{"PSS allowed", doc(pss), Request{Principal: testers, Action: "kms:Sign",
			SigningAlgorithm: keys.RSASSAPSSSHA512}, Allow},
		{"PKCS1 refused", doc(pss), Request{Principal: testers, Action: "kms:Sign",
			SigningAlgorithm: keys.RSASSAPKCS1V15SHA256}, ImplicitDeny},
		{"RAW allowed", doc(raw), Request{Principal: user, Action: "kms:Sign", MessageType: keys.Raw}, Allow},
		{"DIGEST refused", doc(raw), Request{Principal: user, Action: "kms:Sign", MessageType: keys.Digest}, ImplicitDeny},
		{"request alias", doc(alias), Request{Principal: developer, Action: "kms:GenerateDataKey",
			RequestAlias: "alias/finance-key"}, Allow},
		{"request by key id", doc(alias), Request{Principal: developer, Action: "kms:GenerateDataKey"}, ImplicitDeny},
		{"OAEP allowed", doc(allowRole, oaepOnly), Request{Principal: exampleRol, Action: "kms:Decrypt",
			EncryptionAlgorithm: keys.RSAESOAEPSHA256}, Allow},
		{"symmetric denied", doc(allowRole, oaepOnly), Request{Principal: exampleRol, Action: "kms:Encrypt",
			EncryptionAlgorithm: keys.SymmetricDefaultAlg}, Deny},
		// StringNotEquals on an absent key is true, so the Deny applies.
		{"no algorithm denied", doc(allowRole, oaepOnly), Request{Principal: exampleRol, Action: "kms:Encrypt"}, Deny},
		{"via EBS never in keygate", doc(callerAcct), Request{Principal: "arn:aws:iam::111122223333:role/x",
			Action: "kms:Decrypt"}, ImplicitDeny},
		{"caller account matches", doc(callerAcctOnly), Request{Principal: "arn:aws:iam::111122223333:role/x",
			Action: "kms:Decrypt"}, Allow},
		{"caller account other", doc(callerAcctOnly), Request{Principal: "arn:aws:iam::444455556666:role/x",
			Action: "kms:Decrypt"}, ImplicitDeny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			tc.r.Resource = testKeyARN
			if got := p.Evaluate(&tc.r); got.Effect != tc.want || got.Allowed != (tc.want == Allow) {
				t.Fatalf("got %+v, want %v\n%s", got, tc.want, p.Explain(&tc.r))
			}
		})
	}
}

// Examples from the IAM condition operator reference,
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
// (awsdocs/iam-user-guide, reference_policies_elements_condition_operators.md),
// adapted to a key policy's principal, action and keys keygate sets.
func TestIAMOperatorExamples(t *testing.T) {
	const role = "arn:aws:iam::111122223333:role/acs"
	stmt := func(effect, cond string) string {
		return `{"Effect": "` + effect + `", "Principal": {"AWS": "` + role + `"}, "Action": "kms:Sign",
			"Resource": "*", "Condition": ` + cond + `}`
	}
	anyone := func(effect, cond string) string {
		return `{"Effect": "` + effect + `", "Principal": "*", "Action": "kms:Sign", "Resource": "*", "Condition": ` + cond + `}`
	}
	const weird = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt"
	allow := `{"Effect": "Allow", "Principal": {"AWS": "` + role + `"}, "Action": "kms:Sign", "Resource": "*"}`
	ip := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	day := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	tests := []struct {
		name   string
		policy []byte
		r      Request
		want   Effect
	}{
		// "the request must come from the IP range 203.0.113.0 to 203.0.113.255".
		{"IpAddress in range", doc(stmt("Allow", `{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}`)),
			Request{SourceIP: ip("203.0.113.200")}, Allow},
		{"IpAddress out of range", doc(stmt("Allow", `{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}`)),
			Request{SourceIP: ip("203.0.114.1")}, ImplicitDeny},
		// "mix IPv4 and IPv6 addresses to cover all of your organization's valid IP addresses".
		{"IPv6 range", doc(stmt("Allow", `{"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}`)),
			Request{SourceIP: ip("2001:db8:1234:5678::9")}, Allow},
		{"IPv6 outside", doc(stmt("Allow", `{"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}}`)),
			Request{SourceIP: ip("2001:db8:1234:5679::9")}, ImplicitDeny},
		// "If you specify an IP address without the associated routing prefix, IAM uses ... /32".
		{"single address is /32", doc(stmt("Allow", `{"IpAddress": {"aws:SourceIp": "203.0.113.7"}}`)),
			Request{SourceIP: ip("203.0.113.8")}, ImplicitDeny},
		{"v4-mapped v6 peer", doc(stmt("Allow", `{"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}`)),
			Request{SourceIP: ip("::ffff:203.0.113.9")}, Allow},
		{"NotIpAddress deny", doc(allow, stmt("Deny", `{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}`)),
			Request{SourceIP: ip("198.51.100.1")}, Deny},
		{"NotIpAddress inside", doc(allow, stmt("Deny", `{"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}`)),
			Request{SourceIP: ip("203.0.113.1")}, Allow},
		// "With a StringLike condition, the match succeeds ... With an ArnLike
		// condition, which matches elements between colons, the match fails."
		{"StringLike across colons", doc(anyone("Allow", `{"StringLike": {"aws:PrincipalArn": "arn:aws:someservice:*:111122223333:finance/*"}}`)),
			Request{Principal: weird}, Allow},
		{"ArnLike per component", doc(anyone("Allow", `{"ArnLike": {"aws:PrincipalArn": "arn:aws:someservice:*:111122223333:finance/*"}}`)),
			Request{Principal: weird}, ImplicitDeny},
		{"ArnLike ?", doc(stmt("Allow", `{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/ac?"}}`)),
			Request{}, Allow},
		// The "Bool" example: "aws:SecureTransport key is always present"; keygate is always mTLS.
		{"Bool SecureTransport false never holds", doc(allow, stmt("Deny", `{"Bool": {"aws:SecureTransport": "false"}}`)),
			Request{}, Allow},
		// "If you are using an "Effect": "Deny" element with a negated condition
		// operator like StringNotEqualsIfExists, the request is still denied even if the tag is missing."
		{"StringNotEqualsIfExists deny, key missing", doc(allow, stmt("Deny", `{"StringNotEqualsIfExists": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}`)),
			Request{}, Deny},
		{"StringEqualsIfExists, key missing", doc(stmt("Allow", `{"StringEqualsIfExists": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}`)),
			Request{}, Allow},
		{"StringEqualsIfExists, key wrong", doc(stmt("Allow", `{"StringEqualsIfExists": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}`)),
			Request{SigningAlgorithm: keys.ECDSASHA384}, ImplicitDeny},
		// Null: "true (the key doesn't exist — it is null)".
		{"Null true, key absent", doc(stmt("Allow", `{"Null": {"kms:SigningAlgorithm": "true"}}`)), Request{}, Allow},
		{"Null true, key present", doc(stmt("Allow", `{"Null": {"kms:SigningAlgorithm": "true"}}`)),
			Request{SigningAlgorithm: keys.ECDSASHA256}, ImplicitDeny},
		// Date operators with aws:CurrentTime.
		{"DateLessThan before", doc(stmt("Allow", `{"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}`)),
			Request{CurrentTime: day("2026-11-23T12:00:00Z")}, Allow},
		{"DateLessThan after", doc(stmt("Allow", `{"DateLessThan": {"aws:CurrentTime": "2027-01-01T00:00:00Z"}}`)),
			Request{CurrentTime: day("2027-06-01T00:00:00Z")}, ImplicitDeny},
		{"DateGreaterThan epoch", doc(stmt("Allow", `{"DateGreaterThan": {"aws:CurrentTime": "1577836801"}}`)),
			Request{CurrentTime: day("2026-11-23T12:00:00Z")}, Allow},
		{"Date on absent time", doc(stmt("Allow", `{"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:01Z"}}`)),
			Request{}, ImplicitDeny},
		// "StringNotEquals ... multiple values": negated operators NOR the values.
		{"StringNotEquals NOR hit", doc(allow, stmt("Deny", `{"StringNotEquals": {"kms:SigningAlgorithm": ["ECDSA_SHA_256", "RSASSA_PSS_SHA_256"]}}`)),
			Request{SigningAlgorithm: keys.RSASSAPSSSHA256}, Allow},
		{"StringNotEquals NOR miss", doc(allow, stmt("Deny", `{"StringNotEquals": {"kms:SigningAlgorithm": ["ECDSA_SHA_256", "RSASSA_PSS_SHA_256"]}}`)),
			Request{SigningAlgorithm: keys.RSASSAPKCS1V15SHA256}, Deny},
		{"StringEqualsIgnoreCase", doc(stmt("Allow", `{"StringEqualsIgnoreCase": {"kms:RequestAlias": "ALIAS/ACS"}}`)),
			Request{RequestAlias: "alias/acs"}, Allow},
		{"NumericLessThanEquals epoch", doc(stmt("Allow", `{"NumericLessThanEquals": {"aws:EpochTime": "1800000000"}}`)),
			Request{CurrentTime: day("2026-11-23T12:00:00Z")}, Allow},
		{"StringLike ?", doc(stmt("Allow", `{"StringLike": {"kms:SigningAlgorithm": "ECDSA_SHA_?56"}}`)),
			Request{SigningAlgorithm: keys.ECDSASHA256}, Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			if tc.r.Principal == "" {
				tc.r.Principal = role
			}
			tc.r.Action, tc.r.Resource = "kms:Sign", testKeyARN
			if got := p.Evaluate(&tc.r); got.Effect != tc.want {
				t.Fatalf("got %+v, want %v\n%s", got, tc.want, p.Explain(&tc.r))
			}
		})
	}
}

// The set-operator examples of
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html
// (awsdocs/iam-user-guide, reference_policies_multi-value-conditions.md),
// with kms:EncryptionContextKeys standing in for dynamodb:requestedAttributes.
func TestIAMSetOperatorExamples(t *testing.T) {
	const role = "arn:aws:iam::111122223333:role/ds"
	onlyThese := doc(`{"Effect": "Allow", "Principal": {"AWS": "` + role + `"}, "Action": "kms:Decrypt", "Resource": "*",
		"Condition": {"ForAllValues:StringLike": {"kms:EncryptionContextKeys": ["PostDateTime", "Message", "Tags"]}}}`)
	denyAny := doc(`{"Effect": "Allow", "Principal": {"AWS": "`+role+`"}, "Action": "kms:Decrypt", "Resource": "*"}`,
		`{"Effect": "Deny", "Principal": {"AWS": "`+role+`"}, "Action": "kms:Decrypt", "Resource": "*",
		"Condition": {"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": ["ID", "PostDateTime"]}}}`)
	ec := func(names ...string) map[string]string {
		m := map[string]string{}
		for _, n := range names {
			m[n] = "v"
		}
		return m
	}
	tests := []struct {
		name   string
		policy []byte
		ctx    map[string]string
		want   Effect
	}{
		// "get the attributes PostDateTime and Message ... the request is allowed".
		{"ForAllValues all listed", onlyThese, ec("PostDateTime", "Message"), Allow},
		// "if the user's request includes the ID attribute, the request fails".
		{"ForAllValues one unlisted", onlyThese, ec("PostDateTime", "ID"), ImplicitDeny},
		// "There's no match for UserName, so the condition operator returns false".
		{"ForAllValues UserName", onlyThese, ec("PostDateTime", "UserName"), ImplicitDeny},
		// "If the key values in the request resolve to an empty data set ...
		// ForAllValues returns true".
		{"ForAllValues empty", onlyThese, nil, Allow},
		// "The last test returns true, so the condition is true; because the
		// Effect element is set to Deny, the request is denied."
		{"ForAnyValue one hit", denyAny, ec("UserName", "Message", "PostDateTime"), Deny},
		// "just the UserName attribute ... the request is not denied by this policy".
		{"ForAnyValue no hit", denyAny, ec("UserName"), Allow},
		// "... and ForAnyValue returns false".
		{"ForAnyValue empty", denyAny, nil, Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustParse(t, tc.policy)
			r := req(role, "kms:Decrypt")
			r.EncryptionContext = tc.ctx
			if got := p.Evaluate(r); got.Effect != tc.want {
				t.Fatalf("got %+v, want %v\n%s", got, tc.want, p.Explain(r))
			}
		})
	}
}

// The console's key administrators statement from
// https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
// (awsdocs/aws-kms-developer-guide, key-policy-default.md): "Key
// administrators have permissions to manage the KMS key, but do not have
// permissions to use the KMS key in cryptographic operations."
func TestKMSDefaultAdministratorsStatement(t *testing.T) {
	p := mustParse(t, doc(`{
	  "Sid": "Allow access for Key Administrators",
	  "Effect": "Allow",
	  "Principal": {"AWS": [
	    "arn:aws:iam::111122223333:user/KMSAdminUser",
	    "arn:aws:iam::111122223333:role/KMSAdminRole"
	  ]},
	  "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
	    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
	    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
	  "Resource": "*"
	}`))
	admin := "arn:aws:iam::111122223333:role/KMSAdminRole"
	// Each wildcard's documented expansion ("kms:Create* Allows kms:CreateAlias
	// and kms:CreateGrant", "kms:Get* Allows kms:GetKeyPolicy ... For
	// asymmetric KMS keys, it allows GetPublicKey", ...).
	for _, a := range []string{"kms:CreateAlias", "kms:CreateGrant", "kms:DescribeKey", "kms:EnableKey",
		"kms:EnableKeyRotation", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags",
		"kms:PutKeyPolicy", "kms:UpdateAlias", "kms:UpdateKeyDescription", "kms:RevokeGrant", "kms:DisableKey",
		"kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:GetPublicKey", "kms:DeleteAlias",
		"kms:DeleteImportedKeyMaterial", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"} {
		if d := p.Evaluate(req(admin, a)); !d.Allowed || d.Sid != "Allow access for Key Administrators" {
			t.Errorf("%s: %+v", a, d)
		}
	}
	for _, a := range []string{"kms:Sign", "kms:Verify", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
		"kms:GenerateMac", "kms:ReEncryptFrom", "kms:DeriveSharedSecret"} {
		if p.Evaluate(req(admin, a)).Allowed {
			t.Errorf("administrator allowed to use the key: %s", a)
		}
	}
	// "Enable IAM policies": the account principal. In keygate it stands for
	// every principal of the account that the config maps.
	root := mustParse(t, doc(`{"Sid": "Enable IAM policies", "Effect": "Allow",
	  "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"}`))
	if !root.Evaluate(req("arn:aws:iam::111122223333:role/acs", "kms:Sign")).Allowed {
		t.Error("account principal did not cover a principal of the account")
	}
	if root.Evaluate(req("arn:aws:iam::444455556666:role/acs", "kms:Sign")).Allowed {
		t.Error("account principal covered another account")
	}
	if root.Evaluate(req("arn:aws:iam::111122223333:role/acs", "keygate:CreateAcsSession")).Allowed {
		t.Error("kms:* granted a keygate: action")
	}
}
