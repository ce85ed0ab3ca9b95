package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/keygate/keygate/keys"
)

// benchPolicy is shaped like the demo keys' policies: admins, the ACS
// signing with one algorithm from known networks, the 3DS server and DS on
// other actions, and an explicit Deny on a restricted encryption context.
var benchPolicy = doc(
	string(stmtOf(Default(testAccount, []string{"arn:aws:iam::111122223333:role/keygate-admin"}))),
	`{"Sid": "AcsSign", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:role/acs"},
	  "Action": ["kms:Sign", "kms:GetPublicKey", "keygate:SignAcsContent"], "Resource": "*",
	  "Condition": {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_256"},
	                "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "fd00::/8"]},
	                "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}`,
	`{"Sid": "ServerData", "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::111122223333:role/3ds-server", "arn:aws:iam::111122223333:role/ds"]},
	  "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
	  "Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "purpose"}}}`,
	`{"Sid": "NoRestricted", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*",
	  "Condition": {"StringEqualsIgnoreCase": {"kms:EncryptionContext:tier": "restricted"}}}`,
)

func benchRequests() (allowed, implicit, explicit *Request) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	allowed = req("arn:aws:iam::111122223333:role/acs", "kms:Sign")
	allowed.SigningAlgorithm = keys.ECDSASHA256
	allowed.MessageType = keys.Digest
	allowed.SourceIP = netip.MustParseAddr("10.1.2.3")
	allowed.CurrentTime = now
	implicit = req("arn:aws:iam::111122223333:role/3ds-server", "kms:Sign")
	implicit.SigningAlgorithm = keys.ECDSASHA256
	implicit.SourceIP = allowed.SourceIP
	implicit.CurrentTime = now
	explicit = req("arn:aws:iam::111122223333:role/3ds-server", "kms:Decrypt")
	explicit.EncryptionContext = map[string]string{"purpose": "pan", "Tier": "Restricted", "acctID": "42"}
	explicit.SourceIP = allowed.SourceIP
	explicit.CurrentTime = now
	return
}

// TestEvaluateNoAlloc holds the hot-path promise: a decision allocates nothing.
func TestEvaluateNoAlloc(t *testing.T) {
	p := mustParse(t, benchPolicy)
	a, i, e := benchRequests()
	for _, c := range []struct {
		r    *Request
		want Effect
	}{{a, Allow}, {i, ImplicitDeny}, {e, Deny}} {
		if d := p.Evaluate(c.r); d.Effect != c.want {
			t.Fatalf("%s: got %+v, want %v", c.r.Action, d, c.want)
		}
		if n := testing.AllocsPerRun(100, func() { p.Evaluate(c.r) }); n != 0 {
			t.Errorf("%v decision allocates %v times", c.want, n)
		}
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p := mustParse(b, benchPolicy)
	a, i, e := benchRequests()
	for _, c := range []struct {
		name string
		r    *Request
	}{{"allowed", a}, {"implicit-deny", i}, {"explicit-deny", e}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Evaluate(c.r)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(benchPolicy); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEvaluateConcurrent shares one Policy between goroutines, as the
// server does; run with -race.
func TestEvaluateConcurrent(t *testing.T) {
	p := mustParse(t, benchPolicy)
	a, i, e := benchRequests()
	want := [3]Decision{p.Evaluate(a), p.Evaluate(i), p.Evaluate(e)}
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			for n := 0; n < 500; n++ {
				if got := [3]Decision{p.Evaluate(a), p.Evaluate(i), p.Evaluate(e)}; got != want {
					done <- fmt.Errorf("got %+v, want %+v", got, want)
					return
				}
				p.Explain(e)
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
