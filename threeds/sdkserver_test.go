package threeds

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keygate/keygate/internal/kgerr"
)

// EMVCo worked samples 5 and 6 (acsSignedContent, RSA and EC) are JWS
// verification vectors for the shared verifier: the sample's own bytes
// verify against the sample DS root, and a changed byte does not.
func TestVectorsVerifyX5CJWS(t *testing.T) {
	_, m := loadVectors(t)
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, "ds_root_cert.pem"))
	at := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, ex := range m.ACSSignedContent {
		t.Run(ex.Name, func(t *testing.T) {
			leaf := readCert(t, ex.Cert)
			// The sample's header carries its certificate; rebuild the JWS
			// from the sample's parts exactly as published.
			jws := ex.Header + "." + ex.Payload + "." + ex.Signature
			payload, got, err := VerifyX5CJWS(jws, "acsSignedContent", MaxACSSignedContent, roots, at)
			if err != nil {
				t.Fatalf("sample does not verify: %v", err)
			}
			if !got.Equal(leaf) || base64.RawURLEncoding.EncodeToString(payload) != ex.Payload {
				t.Fatal("wrong leaf or payload")
			}
			sig := []byte(ex.Signature)
			sig[10] ^= 'A' ^ 'B'
			_, _, err = VerifyX5CJWS(ex.Header+"."+ex.Payload+"."+string(sig), "acsSignedContent", MaxACSSignedContent, roots, at)
			if kgerr.KindOf(err) != kgerr.InvalidArgument {
				t.Fatalf("altered signature: %v", err)
			}
		})
	}
}

// dsCA is a test DS CA that issues Split-SDK server certificates.
type dsCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newDSCA(t testing.TB, name string) *dsCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-24 * time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &dsCA{cert: cert, key: key, pool: pool}
}

func (ca *dsCA) issue(t testing.TB, pub crypto.PublicKey, from, to time.Time, ku x509.KeyUsage) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Split-SDK server"},
		NotBefore: from, NotAfter: to, KeyUsage: ku}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// splitSDKSign is the Split-SDK server's side, written with go-jose.
func splitSDKSign(t testing.TB, alg jose.SignatureAlgorithm, key any, chain [][]byte, payload string) string {
	t.Helper()
	var x5c []string
	for _, der := range chain {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(der))
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("x5c", x5c))
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sdkServerPayload(ts time.Time) string {
	return fmt.Sprintf(`{"sdkReferenceNumber":"3DS_LOA_SDK_PPFU_020100_00007","sdkSignatureTimestamp":%q,"sdkTransID":"b2385523-a66c-4907-ac3c-91848e8c0067","splitSdkServerID":"split-server-1"}`,
		ts.UTC().Format(SdkSignatureTimestampLayout))
}

func TestVerifySdkServerSignedContent(t *testing.T) {
	ca := newDSCA(t, "Test DS CA")
	now := time.Now().UTC().Truncate(time.Second)
	trust := SdkServerTrust{Roots: ca.pool, MaxSkew: 5 * time.Minute}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	day := func(d int) time.Time { return now.Add(time.Duration(d) * 24 * time.Hour) }
	ecLeaf := ca.issue(t, &ecKey.PublicKey, day(-1), day(1), x509.KeyUsageDigitalSignature)
	rsaLeaf := ca.issue(t, &rsaKey.PublicKey, day(-1), day(1), x509.KeyUsageDigitalSignature)

	for name, jws := range map[string]string{
		"ES256": splitSDKSign(t, jose.ES256, ecKey, [][]byte{ecLeaf, ca.cert.Raw}, sdkServerPayload(now.Add(-time.Minute))),
		"PS256": splitSDKSign(t, jose.PS256, rsaKey, [][]byte{rsaLeaf}, sdkServerPayload(now.Add(time.Minute))),
	} {
		got, err := VerifySdkServerSignedContent(jws, trust, now)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.SDKReferenceNumber != "3DS_LOA_SDK_PPFU_020100_00007" || got.SDKTransID != "b2385523-a66c-4907-ac3c-91848e8c0067" ||
			got.SplitSDKServerID != "split-server-1" || got.SDKSignatureTimestamp.IsZero() {
			t.Fatalf("%s: %+v", name, got)
		}
	}

	other := newDSCA(t, "Another scheme's CA")
	otherLeaf := other.issue(t, &ecKey.PublicKey, day(-1), day(1), x509.KeyUsageDigitalSignature)
	expired := ca.issue(t, &ecKey.PublicKey, day(-3), day(-2), x509.KeyUsageDigitalSignature)
	wrongKU := ca.issue(t, &ecKey.PublicKey, day(-1), day(1), x509.KeyUsageKeyEncipherment)
	good := sdkServerPayload(now)
	for _, tc := range []struct{ name, jws, says string }{
		{"unknown CA", splitSDKSign(t, jose.ES256, ecKey, [][]byte{otherLeaf}, good), "does not lead to a trusted DS CA"},
		{"expired leaf", splitSDKSign(t, jose.ES256, ecKey, [][]byte{expired}, good), "leaf certificate is not valid now"},
		{"key usage", splitSDKSign(t, jose.ES256, ecKey, [][]byte{wrongKU}, good), "does not include digitalSignature"},
		{"old timestamp", splitSDKSign(t, jose.ES256, ecKey, [][]byte{ecLeaf}, sdkServerPayload(now.Add(-6*time.Minute))), "outside the allowed skew of 5m0s"},
		{"future timestamp", splitSDKSign(t, jose.ES256, ecKey, [][]byte{ecLeaf}, sdkServerPayload(now.Add(6*time.Minute))), "outside the allowed skew"},
		{"timestamp format", splitSDKSign(t, jose.ES256, ecKey, [][]byte{ecLeaf}, strings.Replace(good, now.Format(SdkSignatureTimestampLayout), now.Format(time.RFC3339), 1)), "YYYYMMDDHHMMSS"},
		{"member missing", splitSDKSign(t, jose.ES256, ecKey, [][]byte{ecLeaf}, `{"sdkReferenceNumber":"r","sdkTransID":"t","splitSdkServerID":"s"}`), "sdkSignatureTimestamp is missing"},
		{"signed by another key", splitSDKSign(t, jose.ES256, mustEC(t), [][]byte{ecLeaf}, good), "signature does not verify"},
		{"alg for another key type", splitSDKSign(t, jose.PS256, rsaKey, [][]byte{ecLeaf}, good), "does not fit"},
		{"no x5c", strings.Join([]string{b64([]byte(`{"alg":"ES256"}`)), b64([]byte(good)), "AAAA"}, "."), "x5c is missing"},
		{"HS256", strings.Join([]string{b64([]byte(`{"alg":"HS256","x5c":[]}`)), b64([]byte(good)), "AAAA"}, "."), "PS256 or ES256"},
		{"oversized", strings.Repeat("A", MaxSdkServerSignedContent+1), "at most 16000"},
		{"not a JWS", "a.b", "3 parts"},
	} {
		_, err := VerifySdkServerSignedContent(tc.jws, trust, now)
		if kgerr.KindOf(err) != kgerr.InvalidArgument || !strings.Contains(kgerr.Message(err), tc.says) {
			t.Errorf("%s: got %v %q, want InvalidArgument containing %q", tc.name, kgerr.KindOf(err), kgerr.Message(err), tc.says)
		}
	}
	_, err := VerifySdkServerSignedContent(splitSDKSign(t, jose.ES256, ecKey, [][]byte{ecLeaf}, good), SdkServerTrust{}, now)
	wantKind(t, err, kgerr.FailedPrecondition, "no DS CA")
}

func mustEC(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
