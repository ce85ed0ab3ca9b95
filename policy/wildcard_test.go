package policy

import "testing"

func TestWildMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"kms:*", "kms:Sign", false, true},
		{"kms:Gen*", "kms:GenerateDataKey", false, true},
		{"kms:gen*", "kms:GenerateDataKey", true, true},
		{"kms:gen*", "kms:GenerateDataKey", false, false},
		{"kms:*Key*", "kms:DescribeKey", false, true},
		{"kms:Sign", "kms:SignX", false, false},
		{"kms:Sig?", "kms:Sign", false, true},
		{"kms:Sig?", "kms:Sig", false, false},
		{"*", "", false, true},
		{"", "", false, true},
		{"", "a", false, false},
		{"a*b*c", "aXbYbZc", false, true},
		{"a*b*c", "aXbYbZ", false, false},
		{"**?", "a", false, true},
		{"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false},
	}
	for _, tc := range tests {
		if got := wildMatch(tc.pattern, tc.s, tc.fold); got != tc.want {
			t.Errorf("wildMatch(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.fold, got, tc.want)
		}
	}
}

func TestArnMatchAndAccount(t *testing.T) {
	if !arnMatch("arn:aws:kms:*:111122223333:key/*", testKeyARN) {
		t.Error("key ARN pattern should match")
	}
	if arnMatch("arn:aws:kms:*:444455556666:key/*", testKeyARN) {
		t.Error("other account should not match")
	}
	if arnMatch("arn:aws:kms:*", testKeyARN) {
		t.Error("a pattern with fewer components should not match")
	}
	for arn, want := range map[string]string{
		"arn:aws:iam::111122223333:role/acs":           "111122223333",
		"arn:aws:sts::111122223333:assumed-role/acs/s": "111122223333",
		"arn:aws:kms:us-west-2:444455556666:key/x":     "444455556666",
		"not-an-arn":    "",
		"arn:aws:iam::": "",
		"arn:aws-us-gov:iam::555566667777:user/a/b:c/d": "555566667777",
	} {
		if got := arnAccount(arn); got != want {
			t.Errorf("arnAccount(%q) = %q, want %q", arn, got, want)
		}
	}
}
