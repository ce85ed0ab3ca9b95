package threeds

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testSDK plays the 3DS SDK, written without this package's JWE, KDF or
// JWK code: go-jose where the JOSE flow is standard, crypto/cipher where 3DS
// differs (the A128GCM counter IVs and key halves).
type testSDK struct {
	priv       *ecdh.PrivateKey
	jwk        []byte
	acsTransID string
	enc        Enc
	cek        []byte
	sdkCounter int
	acsCounter int
}

func newTestSDK(t testing.TB, acsTransID string, enc Enc) *testSDK {
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := priv.PublicKey().Bytes()
	jwk := fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":"%s","y":"%s"}`,
		base64.RawURLEncoding.EncodeToString(pub[1:33]), base64.RawURLEncoding.EncodeToString(pub[33:]))
	return &testSDK{priv: priv, jwk: []byte(jwk), acsTransID: acsTransID, enc: enc}
}

// acceptARes checks acsSignedContent like an SDK: chain to the DS root, the
// signature under the x5c leaf, its own key echoed unchanged; then derives
// the session key from acsEphemPubKey.
func (s *testSDK) acceptARes(t *testing.T, jws string, root *x509.Certificate, sdkRef string) {
	t.Helper()
	verifyWithGoJose(t, jws, root, time.Now(), "")
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(jws, ".")[1])
	var content struct {
		ACSEphemPubKey json.RawMessage `json:"acsEphemPubKey"`
		SDKEphemPubKey json.RawMessage `json:"sdkEphemPubKey"`
		ACSURL         string          `json:"acsURL"`
	}
	if err := json.Unmarshal(payload, &content); err != nil {
		t.Fatal(err)
	}
	if string(content.SDKEphemPubKey) != string(s.jwk) {
		t.Fatalf("sdkEphemPubKey changed: %s", content.SDKEphemPubKey)
	}
	var acs jose.JSONWebKey
	if err := acs.UnmarshalJSON(content.ACSEphemPubKey); err != nil {
		t.Fatal(err)
	}
	acsPub, err := acs.Key.(*ecdsa.PublicKey).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	z, err := s.priv.ECDH(acsPub)
	if err != nil {
		t.Fatal(err)
	}
	s.cek = sdkKDF(z, sdkRef)
}

// sdkKDF is the 3DS Concat KDF as DESIGN.md spells it:
// SHA256(00000001 || Z || 00000000 || 00000000 || len32(PV) || PV || 00000100).
func sdkKDF(z []byte, pv string) []byte {
	h := sha256.New()
	h.Write([]byte{0, 0, 0, 1})
	h.Write(z)
	h.Write(make([]byte, 8))
	binary.Write(h, binary.BigEndian, uint32(len(pv)))
	h.Write([]byte(pv))
	h.Write([]byte{0, 0, 1, 0})
	return h.Sum(nil)
}

// creq encrypts a CReq carrying the given counter.
func (s *testSDK) creq(t testing.TB, counter int) string {
	t.Helper()
	body := fmt.Sprintf(`{"threeDSServerTransID":"8a880dc0-d2d2-4067-bcb1-b08d1690b26e","acsTransID":%q,"messageType":"CReq","messageVersion":"2.2.0","sdkTransID":"b2385523-a66c-4907-ac3c-91848e8c0067","sdkCounterStoA":"%03d"}`, s.acsTransID, counter)
	if s.enc == A128CBCHS256 {
		enc, err := jose.NewEncrypter(jose.A128CBC_HS256, jose.Recipient{Algorithm: jose.DIRECT, Key: s.cek, KeyID: s.acsTransID}, nil)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := enc.Encrypt([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		out, err := obj.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hdr := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"alg":"dir","enc":"A128GCM","kid":%q}`, s.acsTransID)))
	iv := make([]byte, 12)
	iv[11] = byte(counter)
	ct, tag := counterpartyGCMSeal(t, s.cek[:16], iv, []byte(body), []byte(hdr))
	e := base64.RawURLEncoding.EncodeToString
	return hdr + ".." + e(iv) + "." + e(ct) + "." + e(tag)
}

// nextCReq encrypts the next CReq in sequence.
func (s *testSDK) nextCReq(t testing.TB) string {
	c := s.creq(t, s.sdkCounter)
	s.sdkCounter++
	return c
}

// openCRes decrypts a CRes with go-jose, checks the 3DS IV for A128GCM and
// the acsCounterAtoS sequence, and returns the CRes JSON.
func (s *testSDK) openCRes(t *testing.T, jwe string) map[string]any {
	t.Helper()
	obj, err := jose.ParseEncrypted(jwe, []jose.KeyAlgorithm{jose.DIRECT}, []jose.ContentEncryption{jose.A128CBC_HS256, jose.A128GCM})
	if err != nil {
		t.Fatalf("go-jose ParseEncrypted: %v", err)
	}
	if obj.Header.KeyID != s.acsTransID {
		t.Fatalf("kid = %q", obj.Header.KeyID)
	}
	key := s.cek
	if s.enc == A128GCM {
		key = s.cek[16:]
		iv, _ := base64.RawURLEncoding.DecodeString(strings.Split(jwe, ".")[2])
		want := []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, byte(s.acsCounter)}
		if string(iv) != string(want) {
			t.Fatalf("CRes IV = %X, want %X", iv, want)
		}
	}
	var pt []byte
	asCounterparty(func() { pt, err = obj.Decrypt(key) })
	if err != nil {
		t.Fatalf("go-jose Decrypt: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(pt, &m); err != nil {
		t.Fatal(err)
	}
	if m["acsCounterAtoS"] != fmt.Sprintf("%03d", s.acsCounter) {
		t.Fatalf("acsCounterAtoS = %v, want %03d", m["acsCounterAtoS"], s.acsCounter)
	}
	s.acsCounter++
	return m
}

// testCA makes a DS root and an ACS leaf certificate for pub.
func testCA(t testing.TB, pub any) (root *x509.Certificate, chain [][]byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test DS"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	root, _ = x509.ParseCertificate(caDER)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test ACS"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return root, [][]byte{leafDER, caDER}
}
