package policy

import (
	"strings"
	"testing"
)

// FuzzEvaluatePure: evaluation is a pure function of its input. The same
// request, its encryption context built in every insertion order (and Go
// randomizing map iteration on each read), always gets the same decision,
// which Explain agrees with; a context with keys equal under case folding
// is always denied (issue 11 item 6: 4 of 200 identical evaluations used
// to allow what a Deny forbade).
func FuzzEvaluatePure(f *testing.F) {
	twins := []byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"},
		{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"B"}}}]}`)
	f.Add(twins, "tenant", "B", "Tenant", "A", "purpose", "pan")
	f.Add(benchPolicy, "tier", "restricted", "purpose", "pan", "acsTransID", "42")
	f.Add(fuzzSeeds[3], "ab", "x", "b", "y", "AB", "z")
	f.Add([]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*",
		"Condition":{"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["a?","é*"]},"StringLike":{"kms:EncryptionContext:é":"caf?"}}}}`),
		"é", "café", "ab", "1", "a", "2")
	f.Fuzz(func(t *testing.T, doc []byte, k1, v1, k2, v2, k3, v3 string) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		pairs := [][2]string{{k1, v1}, {k2, v2}, {k3, v3}}
		var first *Decision
		for _, order := range [][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}} {
			ec := map[string]string{}
			for _, i := range order {
				if _, dup := ec[pairs[i][0]]; !dup { // the first value of a repeated key wins in every order
					ec[pairs[i][0]] = firstValue(pairs, pairs[i][0])
				}
			}
			r := req("arn:aws:iam::111122223333:role/acs", "kms:Decrypt")
			r.EncryptionContext = ec
			for range 3 {
				d := p.Evaluate(r)
				if first == nil {
					first = &d
				} else if d != *first {
					t.Fatalf("the same request got %+v and %+v", *first, d)
				}
			}
			if ex := p.Explain(r); ex.Decision != *first {
				t.Fatalf("Explain %+v != Evaluate %+v", ex.Decision, *first)
			}
			if twinned(ec) && (first.Effect != Deny || first.Sid != AmbiguousContextSid) {
				t.Fatalf("case twins in %q were not denied: %+v", keysOf(ec), *first)
			}
		}
	})
}

func firstValue(pairs [][2]string, k string) string {
	for _, p := range pairs {
		if p[0] == k {
			return p[1]
		}
	}
	return ""
}

func twinned(ec map[string]string) bool {
	for a := range ec {
		for b := range ec {
			if a != b && strings.EqualFold(a, b) {
				return true
			}
		}
	}
	return false
}

func keysOf(ec map[string]string) []string {
	var out []string
	for k := range ec {
		out = append(out, k)
	}
	return out
}
