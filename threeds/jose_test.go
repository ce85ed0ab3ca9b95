package threeds

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// verifyWithGoJose checks acsSignedContent the way an SDK would, with an
// independent JOSE library: parse, build the x5c chain to root, verify the
// signature with the leaf's key, compare the payload. at is the time the
// chain is checked at (the samples' certificates expire in 2027).
func verifyWithGoJose(t *testing.T, jws string, root *x509.Certificate, at time.Time, wantPayload string) {
	t.Helper()
	obj, err := jose.ParseSigned(jws, []jose.SignatureAlgorithm{jose.PS256, jose.ES256})
	if err != nil {
		t.Fatalf("go-jose ParseSigned: %v", err)
	}
	if len(obj.Signatures) != 1 {
		t.Fatalf("%d signatures", len(obj.Signatures))
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	chains, err := obj.Signatures[0].Protected.Certificates(x509.VerifyOptions{Roots: roots, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		t.Fatalf("go-jose x5c chain: %v", err)
	}
	payload, err := obj.Verify(chains[0][0].PublicKey)
	if err != nil {
		t.Fatalf("go-jose Verify with the x5c leaf: %v", err)
	}
	if wantPayload != "" && string(payload) != wantPayload {
		t.Fatalf("payload = %s\nwant      %s", payload, wantPayload)
	}
}
