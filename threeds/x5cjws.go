package threeds

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// maxX5C bounds the certificates in an x5c header.
const maxX5C = 10

// VerifyX5CJWS verifies a 3DS JWS compact serialization whose protected
// header is {"alg":"PS256"|"ES256","x5c":[leaf, …]} (acsSignedContent,
// sdkServerSignedContent) and returns its payload and leaf. The checks, each
// named in its InvalidArgument: the form, the leaf's validity at now, its
// key usage (digitalSignature), the chain from the leaf through the rest of
// x5c to one of roots, and the signature under the leaf's key with alg.
func VerifyX5CJWS(jws, field string, max int, roots *x509.CertPool, now time.Time) ([]byte, *x509.Certificate, error) {
	bad := func(format string, args ...any) error {
		return kgerr.Errorf(kgerr.InvalidArgument, field+": "+format, args...)
	}
	if len(jws) > max {
		return nil, nil, bad("%d characters; at most %d", len(jws), max)
	}
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, nil, bad("a JWS compact serialization has 3 parts, this has %d", len(parts))
	}
	var dec [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return nil, nil, bad("part %d is not unpadded base64url", i+1)
		}
		dec[i] = b
	}
	hdr, err := objectMembers(dec[0], field+" header")
	if err != nil {
		return nil, nil, err
	}
	if _, ok := hdr["crit"]; ok {
		return nil, nil, bad("header.crit is not supported")
	}
	alg, err := requiredString(hdr, "alg", field+" header")
	if err != nil {
		return nil, nil, err
	}
	if alg != "PS256" && alg != "ES256" {
		return nil, nil, bad("header.alg must be PS256 or ES256")
	}
	chain, err := x5c(hdr, field)
	if err != nil {
		return nil, nil, err
	}
	leaf := chain[0]
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, nil, bad("the x5c leaf certificate is not valid now (valid %s to %s)", leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, nil, bad("the x5c leaf certificate's key usage does not include digitalSignature")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, nil, bad("the x5c chain does not lead to a trusted DS CA")
	}
	if !algFitsKey(alg, leaf) {
		return nil, nil, bad("header.alg %s does not fit the leaf certificate's key", alg)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !verifySig(leaf.PublicKey, alg, digest[:], dec[2]) {
		return nil, nil, bad("the signature does not verify under the x5c leaf certificate")
	}
	return dec[1], leaf, nil
}

// x5c parses the header's certificate chain: standard base64 DER, leaf
// first.
func x5c(hdr map[string]json.RawMessage, field string) ([]*x509.Certificate, error) {
	raw, ok := hdr["x5c"]
	if !ok {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s header.x5c is missing", field)
	}
	var ders []string
	if err := json.Unmarshal(raw, &ders); err != nil || len(ders) == 0 || len(ders) > maxX5C {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s header.x5c must be an array of 1 to %d certificates", field, maxX5C)
	}
	out := make([]*x509.Certificate, len(ders))
	for i, s := range ders {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s header.x5c[%d] is not standard base64", field, i)
		}
		if out[i], err = x509.ParseCertificate(der); err != nil {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s header.x5c[%d] is not an X.509 certificate", field, i)
		}
	}
	return out, nil
}

func algFitsKey(alg string, leaf *x509.Certificate) bool {
	switch k := leaf.PublicKey.(type) {
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256()
	case *rsa.PublicKey:
		return alg == "PS256" && k.Size() >= 256
	}
	return false
}
