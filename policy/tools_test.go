package policy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

func TestDefault(t *testing.T) {
	admin := "arn:aws:iam::111122223333:role/keygate-admin"
	p := mustParse(t, Default(testAccount, []string{admin}))
	for _, a := range adminActionList {
		if d := p.Evaluate(req(admin, a)); !d.Allowed || d.Sid != "KeyAdministration" {
			t.Errorf("admin %s: %+v", a, d)
		}
	}
	for _, a := range []string{"kms:Sign", "kms:Decrypt", "kms:Encrypt", "kms:GenerateMac",
		"kms:DeriveSharedSecret", "keygate:CreateAcsSession", "keygate:DecryptSdkEncData"} {
		if d := p.Evaluate(req(admin, a)); d.Allowed {
			t.Errorf("admin got data-plane %s", a)
		}
	}
	if d := p.Evaluate(req("arn:aws:iam::111122223333:role/acs", "kms:DescribeKey")); d.Allowed {
		t.Error("a non-admin was allowed")
	}
	// No admins: the account root, i.e. every mapped principal of the account.
	root := mustParse(t, Default(testAccount, nil))
	if !root.Evaluate(req("arn:aws:iam::111122223333:role/anyone", "kms:PutKeyPolicy")).Allowed {
		t.Error("root default should admit the account's principals")
	}
	if root.Evaluate(req("arn:aws:iam::999999999999:role/anyone", "kms:PutKeyPolicy")).Allowed {
		t.Error("root default admitted another account")
	}
}

func TestCheckLockout(t *testing.T) {
	admins := []string{"arn:aws:iam::111122223333:role/a1", "arn:aws:iam::111122223333:role/a2"}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ok := mustParse(t, Default(testAccount, admins[1:]))
	if err := CheckLockout(ok, testKeyARN, admins, now); err != nil {
		t.Fatalf("a policy keeping a2 was refused: %v", err)
	}
	// Takes PutKeyPolicy away from everyone.
	bad := mustParse(t, doc(`{"Effect": "Allow", "Principal": {"AWS": "`+admins[0]+`"}, "Action": "kms:GetKeyPolicy"}`))
	err := CheckLockout(bad, testKeyARN, admins, now)
	if kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("lockout not detected: %v", err)
	}
	// An explicit Deny beats the Allow.
	denied := mustParse(t, doc(string(stmtOf(Default(testAccount, admins))),
		`{"Effect": "Deny", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*"}`))
	if CheckLockout(denied, testKeyARN, admins, now) == nil {
		t.Fatal("a Deny on PutKeyPolicy was not caught")
	}
	// Expired: a time condition counts.
	expired := mustParse(t, doc(`{"Effect": "Allow", "Principal": "*", "Action": "kms:PutKeyPolicy", "Resource": "*",
		"Condition": {"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}}`))
	if CheckLockout(expired, testKeyARN, admins, now) == nil {
		t.Fatal("an expired grant was accepted")
	}
}

// stmtOf extracts the one statement of a Default document.
func stmtOf(d []byte) []byte {
	s := string(d)
	i := strings.Index(s, `"Statement": [`) + len(`"Statement": [`)
	j := strings.LastIndex(s, "]")
	return []byte(s[i:j])
}

func TestExplain(t *testing.T) {
	p := mustParse(t, doc(
		`{"Sid": "AllowSign", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/acs"},
		  "Action": "kms:Sign", "Resource": "*", "Condition": {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"}}}`,
		`{"Effect": "Deny", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
		  "Condition": {"StringEquals": {"kms:EncryptionContext:tier": "restricted"}}}`))
	r := req("arn:aws:iam::111122223333:role/acs", "kms:Sign")
	r.SigningAlgorithm = keys.RSASSAPSSSHA256
	ex := p.Explain(r)
	if ex.Decision.Effect != ImplicitDeny || len(ex.Statements) != 2 {
		t.Fatalf("explanation %+v", ex)
	}
	s0 := ex.Statements[0]
	if !s0.Principal || !s0.Action || !s0.Resource || s0.Matched || len(s0.Conditions) != 1 || s0.Conditions[0].Held {
		t.Fatalf("statement 0 trace %+v", s0)
	}
	if c := ex.Statements[1].Conditions[0]; c.Held || !c.KeyAbsent {
		t.Fatalf("statement 1 condition %+v", c)
	}
	out := ex.String()
	for _, want := range []string{"DENIED implicitly", "[0] AllowSign (Allow): does not apply",
		"condition StringEquals kms:SigningAlgorithm: fails", "(key absent from request)"} {
		if !strings.Contains(out, want) {
			t.Errorf("explanation lacks %q:\n%s", want, out)
		}
	}
	r.SigningAlgorithm = keys.ECDSASHA256
	r.EncryptionContext = map[string]string{"Tier": "restricted"}
	if ex := p.Explain(r); ex.Decision.Effect != Deny || ex.Decision.Sid != "1" || !strings.Contains(ex.String(), "DENIED explicitly by statement 1") {
		t.Fatalf("deny explanation:\n%s", ex)
	}
}

func TestDiff(t *testing.T) {
	a := mustParse(t, []byte(`{"Version": "2012-10-17", "Statement": [
		{"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy"], "Resource": "*"},
		{"Sid": "Use", "Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
		 "Condition": {"StringEquals": {"kms:SigningAlgorithm": ["ECDSA_SHA_256"], "kms:CallerAccount": "111122223333"}}}]}`))
	// Same meaning: statement order, whitespace, member order, one-element
	// arrays, "*" vs {"AWS": "*"}, account id vs root ARN, key-name case,
	// action-name case.
	b := mustParse(t, []byte(`{"Statement":[{"Condition":{"StringEquals":{"KMS:CallerAccount":["111122223333"],"kms:signingalgorithm":"ECDSA_SHA_256"}},
		"Action":["kms:sign"],"Principal":{"AWS":["*"]},"Effect":"Allow","Sid":"Use","Resource":["*"]},
		{"Resource":"*","Action":["kms:GetKeyPolicy","kms:PutKeyPolicy"],"Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Effect":"Allow","Sid":"Admin"}],
		"Version":"2012-10-17"}`))
	if d := Diff(a, b); len(d) != 0 {
		t.Fatalf("equivalent documents differ: %v", d)
	}
	c := mustParse(t, []byte(`{"Version": "2012-10-17", "Statement": [
		{"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/admin"}, "Action": "kms:GetKeyPolicy", "Resource": "*"},
		{"Sid": "Use", "Effect": "Allow", "Principal": "*", "Action": "kms:Sign", "Resource": "*",
		 "Condition": {"StringEquals": {"kms:SigningAlgorithm": ["ECDSA_SHA_256", "ECDSA_SHA_384"]}}},
		{"Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"}]}`))
	got := Diff(a, c)
	want := []string{
		`statement "Admin": Principal.AWS: only in the first: arn:aws:iam::111122223333:root; only in the second: arn:aws:iam::111122223333:role/admin`,
		`statement "Admin": Action: only in the first: kms:PutKeyPolicy`,
		`statement "Use": Condition.StringEquals.kms:calleraccount: only in the first document`,
		`statement "Use": Condition.StringEquals.kms:signingalgorithm: only in the second: ECDSA_SHA_384`,
		`statement [2] (no Sid) only in the second document`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestForKMS(t *testing.T) {
	p := mustParse(t, doc(
		`{"Sid": "Acs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/acs"},
		  "Action": ["kms:Sign", "keygate:SignAcsContent"]}`,
		`{"Sid": "Session", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/acs"},
		  "Action": "keygate:CreateAcsSession"}`,
		`{"Sid": "Lock", "Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "NotAction": "keygate:ReadAuditLog"}`))
	b, err := p.ForKMS()
	if err != nil {
		t.Fatal(err)
	}
	k := mustParse(t, b)
	want := mustParse(t, doc(
		`{"Sid": "Acs", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/acs"}, "Action": "kms:Sign"}`,
		`{"Sid": "Lock", "Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "kms:*"}`))
	if d := Diff(k, want); len(d) != 0 {
		t.Fatalf("ForKMS:\n%s\ndiffers: %v", b, d)
	}
	only := mustParse(t, doc(`{"Effect": "Allow", "Principal": "*", "Action": "keygate:*"}`))
	if _, err := only.ForKMS(); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("keygate-only policy: %v", err)
	}
}

func TestActionLists(t *testing.T) {
	for _, a := range AdminActions() {
		if c, ok := knownAction(a); !ok || c != a {
			t.Errorf("admin action %q is not a known action", a)
		}
	}
	for _, a := range KeygateActions() {
		if !hasNamespace(a, "keygate") || wildMatch("kms:*", a, true) {
			t.Errorf("keygate action %q outside its namespace", a)
		}
	}
	l := KMSActions()
	l[0] = "kms:Changed"
	if KMSActions()[0] == "kms:Changed" {
		t.Error("KMSActions exposes the package's table")
	}
}
