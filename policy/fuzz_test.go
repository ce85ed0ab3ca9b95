package policy

import (
	"net/netip"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// fuzzSeeds are valid and nearly valid documents; the committed corpus
// under testdata/fuzz holds more.
var fuzzSeeds = [][]byte{
	benchPolicy,
	Default(testAccount, nil),
	[]byte(`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["111122223333"]},"NotAction":"kms:Get*"}}`),
	[]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*",
		"Condition":{"ForAllValues:StringLike":{"kms:EncryptionContextKeys":["a*","?b"]},"NumericGreaterThanEquals":{"aws:EpochTime":0},
		"Null":{"kms:RequestAlias":"false"},"ArnNotLikeIfExists":{"aws:PrincipalArn":"arn:aws:iam::*:role/x"}}}]}`),
	[]byte(`{"Version":"2012-10-17","Statement":[{"Sid":"a","Effect":"Allow","Principal":"*","Action":"kms:Sign"},{"Sid":"a"}]}`),
}

// FuzzParse: Parse never panics, agrees with Validate, and a parsed policy
// survives its own canonical form unchanged, evaluates consistently and has
// no Diff to itself.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if (err == nil) != (len(Validate(data)) == 0) {
			t.Fatalf("Parse error %v disagrees with Validate", err)
		}
		if err != nil {
			if kgerr.KindOf(err) != kgerr.InvalidArgument {
				t.Fatalf("error kind %v", kgerr.KindOf(err))
			}
			return
		}
		if d := Diff(p, p); len(d) != 0 {
			t.Fatalf("policy differs from itself: %v", d)
		}
		canon := p.Canonical()
		q, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, canon)
		}
		if d := Diff(p, q); len(d) != 0 {
			t.Fatalf("canonical form differs: %v\n%s", d, canon)
		}
		if string(q.Canonical()) != string(canon) {
			t.Fatalf("canonical form is not stable:\n%s\n%s", canon, q.Canonical())
		}
		r := req("arn:aws:iam::111122223333:role/acs", "kms:Sign")
		if p.Evaluate(r) != q.Evaluate(r) {
			t.Fatalf("canonical form decides differently")
		}
		checkConsistent(t, p, r)
	})
}

// FuzzEvaluate: for any request, Evaluate agrees with Explain and with
// IAM's combination rule over the statements that matched, and action
// names are case-insensitive.
func FuzzEvaluate(f *testing.F) {
	f.Add(benchPolicy, "arn:aws:iam::111122223333:role/acs", "kms:Sign", "ECDSA_SHA_256", "tier", "restricted", "10.1.2.3", int64(1795000000))
	f.Add(benchPolicy, "arn:aws:iam::111122223333:role/3ds-server", "kms:Decrypt", "", "purpose", "pan", "fd00::1", int64(0))
	f.Add(fuzzSeeds[2], "arn:aws:iam::111122223333:root", "kms:GetKeyPolicy", "", "", "", "", int64(-1))
	f.Add(fuzzSeeds[3], "arn:aws:iam::444455556666:role/x", "KMS:SIGN", "RSASSA_PSS_SHA_256", "ab", "x", "::ffff:1.2.3.4", int64(1))
	f.Fuzz(func(t *testing.T, doc []byte, principal, action, alg, ecKey, ecVal, ip string, unix int64) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		r := &Request{Principal: principal, Action: action, Resource: testKeyARN,
			SigningAlgorithm: keys.SigningAlgorithm(alg), RequestAlias: ecVal}
		if ecKey != "" {
			r.EncryptionContext = map[string]string{ecKey: ecVal}
		}
		if a, err := netip.ParseAddr(ip); err == nil {
			r.SourceIP = a
		}
		if unix >= 0 {
			r.CurrentTime = time.Unix(unix%(1<<40), 0)
		}
		checkConsistent(t, p, r)
		up := *r
		up.Action = asciiUpper(action)
		if p.Evaluate(&up) != p.Evaluate(r) {
			t.Fatalf("action case changed the decision for %q", action)
		}
	})
}

func checkConsistent(t *testing.T, p *Policy, r *Request) {
	t.Helper()
	d := p.Evaluate(r)
	ex := p.Explain(r)
	if ex.Decision != d {
		t.Fatalf("Explain %+v != Evaluate %+v", ex.Decision, d)
	}
	want, first := ImplicitDeny, -1
	for i, st := range ex.Statements {
		if !st.Matched {
			continue
		}
		if st.Effect == Deny {
			want, first = Deny, i
			break
		}
		if want == ImplicitDeny {
			want, first = Allow, i
		}
	}
	if d.Effect != want || d.Statement != first || d.Allowed != (want == Allow) {
		t.Fatalf("decision %+v, statements say %v at %d", d, want, first)
	}
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
