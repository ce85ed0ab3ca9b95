package threeds

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// FuzzVerifyX5CJWS: the DS's signed-content check sees attacker bytes. It
// answers InvalidArgument for anything it refuses, never panics, and
// accepts a changed sample only if the change left the signed bytes alone.
func FuzzVerifyX5CJWS(f *testing.F) {
	_, m := loadVectors(f)
	roots := x509.NewCertPool()
	roots.AddCert(readCert(f, "ds_root_cert.pem"))
	at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, ex := range m.ACSSignedContent {
		f.Add(ex.Header + "." + ex.Payload + "." + ex.Signature)
	}
	f.Add("a.b.c")
	f.Add(b64([]byte(`{"alg":"ES256","x5c":["AAAA"]}`)) + ".e30.AAAA")
	samples := map[string]bool{}
	for _, ex := range m.ACSSignedContent {
		samples[ex.Header+"."+ex.Payload] = true
	}
	f.Fuzz(func(t *testing.T, jws string) {
		payload, _, err := VerifyX5CJWS(jws, "acsSignedContent", MaxACSSignedContent, roots, at)
		if err != nil {
			if kgerr.KindOf(err) != kgerr.InvalidArgument {
				t.Fatalf("kind %v: %v", kgerr.KindOf(err), err)
			}
			return
		}
		i := strings.LastIndexByte(jws, '.')
		if !samples[jws[:i]] || payload == nil {
			t.Fatalf("accepted a JWS whose signed part is not a sample's: %q", jws)
		}
	})
}
