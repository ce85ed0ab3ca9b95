package report_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/report"
)

// BenchmarkQuarter renders a quarter's pack from a million events: the
// aggregation as they stream past, the access matrix, the HTML and CSVs,
// the manifest. The target is well under a minute per pack:
//
//	go test -run '^$' -bench Quarter -benchtime 1x ./audit/report
func BenchmarkQuarter(b *testing.B) {
	const events = 1_000_000
	since := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	until := since.AddDate(0, 3, 0)
	in := report.Input{Since: since, Until: until, Generated: until,
		Callers: []string{role("acs"), role("3ds-server"), role("ds")}, Admins: []string{role("admin")}, Auditors: []string{role("pci-assessor")}}
	for i, spec := range []string{"ECC_NIST_P256", "RSA_2048", "SYMMETRIC_DEFAULT", "HMAC_256", "ECC_NIST_P256", "SYMMETRIC_DEFAULT"} {
		usage := map[string]string{"ECC_NIST_P256": "SIGN_VERIFY", "RSA_2048": "SIGN_VERIFY", "SYMMETRIC_DEFAULT": "ENCRYPT_DECRYPT", "HMAC_256": "GENERATE_VERIFY_MAC"}[spec]
		name := fmt.Sprintf("key-%d", i)
		in.Keys = append(in.Keys, report.Key{Name: name, ARN: "arn:aws:kms:eu-west-1:111122223333:key/" + name, Spec: spec, Usage: usage,
			Backend: "kms", BackendType: "kms", State: "ENABLED", Created: since, Versions: []report.Version{{Number: 1, State: "ACTIVE", Created: since}},
			Policy: `{"Version":"2012-10-17","Statement":[{"Sid":"Admins","Effect":"Allow","Principal":{"AWS":"` + role("admin") + `"},"Action":"kms:*","Resource":"*"},` +
				`{"Sid":"Use","Effect":"Allow","Principal":{"AWS":["` + role("acs") + `","` + role("3ds-server") + `"]},"Action":["kms:Sign","kms:Encrypt","kms:Decrypt","kms:GenerateMac"],"Resource":"*",` +
				`"Condition":{"StringEquals":{"kms:EncryptionContextKeys":"acsTransID"}}}]}`})
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sign := func(_ context.Context, m []byte) ([]byte, string, error) {
		sig, err := ecdsa.SignASN1(rand.Reader, k, report.ManifestDigest(m))
		return sig, "", err
	}
	step := until.Sub(since) / events
	b.ResetTimer()
	for range b.N {
		bld := report.NewBuilder(in)
		e := &audit.Event{Kind: audit.KindCall, Result: audit.ResultOK, Decision: "Allow"}
		for i := range events {
			e.Seq, e.Time = uint64(i+1), since.Add(time.Duration(i)*step)
			e.KeyName, e.Principal = in.Keys[i%len(in.Keys)].Name, in.Callers[i%2]
			e.Action, e.BackendRequestID, e.Result, e.Decision, e.Kind = "kms:Sign", "req", audit.ResultOK, "Allow", audit.KindCall
			switch {
			case i%100 == 7: // 1% denied
				e.Principal, e.Result, e.Decision, e.BackendRequestID = in.Callers[2], "PermissionDenied", "ImplicitDeny", ""
			case i%50000 == 11: // a few administrative changes
				e.Kind, e.Action, e.Principal = audit.KindPolicyChanged, "kms:PutKeyPolicy", role("admin")
			}
			bld.Add(e)
		}
		if err := report.Write(context.Background(), filepath.Join(b.TempDir(), "pack"), bld.Data(), sign, false); err != nil {
			b.Fatal(err)
		}
	}
}

func role(n string) string { return "arn:aws:iam::111122223333:role/" + n }
