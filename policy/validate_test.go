package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/keygate/keygate/internal/kgerr"
)

func TestValidateAccepts(t *testing.T) {
	for name, d := range map[string]string{
		"statement object": `{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:*"}}`,
		"bare account":     `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:Describe*"}]}`,
		"principal list": `{"Version": "2012-10-17", "Id": "key-default-1", "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
			"Principal": {"AWS": ["arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:role/acs",
			"arn:aws:iam::111122223333:user/ops/alice", "arn:aws:sts::111122223333:assumed-role/acs/session-1"]},
			"Action": "*", "Resource": "arn:aws:kms:us-west-2:111122223333:key/*"}]}`,
		"service principal": `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
			"Action": "kms:GenerateDataKey*", "Resource": "*", "Condition": {"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": "arn:aws:cloudtrail:*:111122223333:trail/*"}}}]}`,
		"not action, not principal": `{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::111122223333:role/admin"},
			"NotAction": ["kms:Describe*", "kms:Get*", "kms:List*"]}]}`,
		"bool and number values": `{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy",
			"Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": true}, "NumericLessThan": {"kms:ValidTo": 1546257599.0}}}]}`,
		"keygate actions": `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": ["keygate:CreateAcsSession", "keygate:*KeyVersion"]}]}`,
		"deprecated key name": `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign",
			"Condition": {"StringEquals": {"kms:CustomerMasterKeySpec": "ECC_NIST_P256"}}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			if ps := Validate([]byte(d)); len(ps) != 0 {
				t.Fatalf("problems: %v", ps)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	stmt := func(body string) string {
		return `{"Version": "2012-10-17", "Statement": [` + body + `]}`
	}
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", `{"Version": `, "end of document"},
		{"invalid UTF-8", "{\"Version\": \"2012-10-17\", \"Id\": \"\xff\"}", "not valid UTF-8"},
		{"trailing data", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign"}`) + `{}`, "trailing data"},
		{"duplicate member", `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Effect": "Deny", "Principal": "*", "Action": "kms:Sign"}]}`, `duplicate member "Effect"`},
		{"bad version", `{"Version": "2012-10-18", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Sign"}}`, "Version"},
		{"no version", `{"Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Sign"}}`, "Version: missing"},
		{"no statement", `{"Version": "2012-10-17"}`, "Statement: missing"},
		{"empty statement", `{"Version": "2012-10-17", "Statement": []}`, "Statement: must be"},
		{"unknown top", `{"Version": "2012-10-17", "Statment": []}`, "Statment: unknown element"},
		{"no effect", stmt(`{"Principal": "*", "Action": "kms:Sign"}`), "Statement[0]: Effect: missing"},
		{"bad effect", stmt(`{"Effect": "allow", "Principal": "*", "Action": "kms:Sign"}`), "Effect: must be"},
		{"no principal", stmt(`{"Effect": "Allow", "Action": "kms:Sign"}`), "Principal: missing"},
		{"both principals", stmt(`{"Effect": "Deny", "Principal": "*", "NotPrincipal": "*", "Action": "kms:Sign"}`), "cannot both"},
		{"NotPrincipal allow", stmt(`{"Effect": "Allow", "NotPrincipal": {"AWS": "111122223333"}, "Action": "kms:Sign"}`), "NotPrincipal: may only be used with"},
		{"partial wildcard principal", stmt(`{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/acs-*"}, "Action": "kms:Sign"}`), "wildcard only as the whole principal"},
		{"bad principal", stmt(`{"Effect": "Allow", "Principal": {"AWS": "acs"}, "Action": "kms:Sign"}`), "not an account id"},
		{"federated", stmt(`{"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"}, "Action": "kms:Sign"}`), "not supported"},
		{"string principal", stmt(`{"Effect": "Allow", "Principal": "111122223333", "Action": "kms:Sign"}`), `must be "*"`},
		{"no action", stmt(`{"Effect": "Allow", "Principal": "*"}`), "Action: missing"},
		{"unknown action", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sgin"}`), `unknown action "kms:Sgin"`},
		{"wildcard matches nothing", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sgin*"}`), "matches no action"},
		{"other service", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}`), "not a kms: or keygate: action"},
		{"empty action list", stmt(`{"Effect": "Allow", "Principal": "*", "Action": []}`), "empty array"},
		{"bad resource", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "arn:aws:s3:::bucket"}`), "Resource"},
		{"NotResource", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "NotResource": "*"}`), "NotResource: not supported"},
		{"unknown element", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condtion": {}}`), "Condtion: unknown element"},
		{"unknown operator", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"StringEqual": {"kms:KeySpec": "x"}}}`), `unknown condition operator "StringEqual"`},
		{"NullIfExists", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"NullIfExists": {"kms:KeySpec": "true"}}}`), "unknown condition operator"},
		{"unknown key", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"StringEquals": {"kms:SigningAlgorithim": "x"}}}`), "kms:SigningAlgorithim: unknown condition key"},
		{"ip op on string key", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"IpAddress": {"kms:KeySpec": "10.0.0.0/8"}}}`), "cannot be used with this key"},
		{"bad CIDR", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}`), "not an IP address"},
		{"bad date", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"DateLessThan": {"aws:CurrentTime": "tomorrow"}}}`), "not an ISO 8601"},
		{"bad bool", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"Bool": {"aws:SecureTransport": "yes"}}}`), "not true or false"},
		{"bad number", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"NumericEquals": {"kms:ValidTo": "soon"}}}`), "not a number"},
		{"bad base64", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"BinaryEquals": {"kms:KeySpec": "!!"}}}`), "not base64"},
		{"policy variable", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}}`), "policy variables"},
		// conditions-kms.md: KMS answers OverlyPermissiveCondition to this.
		{"ForAllValues on EC key", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContext:Department": "IT"}}}`), "remove ForAllValues"},
		{"repeated key", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"StringEquals": {"kms:KeySpec": "a", "KMS:KEYSPEC": "b"}}}`), "repeated"},
		{"object value", stmt(`{"Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Condition": {"StringEquals": {"kms:KeySpec": {"a": 1}}}}`), "values must be"},
		{"too big", `{"Version": "2012-10-17", "Id": "` + strings.Repeat("x", MaxSize) + `"}`, "over KMS's limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatal("Parse accepted the document")
			}
			if kgerr.KindOf(err) != kgerr.InvalidArgument {
				t.Errorf("kind %v, want InvalidArgument", kgerr.KindOf(err))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// Every problem is reported at once, each naming the statement by index and
// Sid and the element.
func TestValidateReportsAll(t *testing.T) {
	d := `{"Version": "2012-10-17", "Statement": [
		{"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "kms:Sign"},
		{"Sid": "B", "Effect": "Maybe", "Principal": {"AWS": "nobody"}, "Action": "kms:Sing"},
		{"Sid": "A", "Effect": "Allow", "NotPrincipal": "*", "Action": "kms:Sign",
		 "Condition": {"StringEquals": {"kms:Nope": "x"}}}]}`
	ps := Validate([]byte(d))
	want := []Problem{
		{Statement: 1, Sid: "B", Element: "Effect"},
		{Statement: 1, Sid: "B", Element: "Principal.AWS"},
		{Statement: 1, Sid: "B", Element: "Action"},
		{Statement: 2, Sid: "A", Element: "NotPrincipal"},
		{Statement: 2, Sid: "A", Element: "Condition.StringEquals.kms:Nope"},
		{Statement: 2, Sid: "A", Element: "Sid"},
	}
	if len(ps) != len(want) {
		t.Fatalf("got %d problems, want %d: %v", len(ps), len(want), ps)
	}
	for i, w := range want {
		if ps[i].Statement != w.Statement || ps[i].Sid != w.Sid || ps[i].Element != w.Element {
			t.Errorf("problem %d = %+v, want %+v", i, ps[i], w)
		}
	}
	_, err := Parse([]byte(d))
	var ke *kgerr.Error
	if !errors.As(err, &ke) || !strings.Contains(ke.Msg, `Statement[1] (Sid "B"): Effect:`) {
		t.Fatalf("error %v does not name statement and element", err)
	}
}
