package threeds

import (
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/keys"
)

// emvcoKeys mirrors testdata/emvco_keys.json.
type emvcoKeys struct {
	DSID               string          `json:"dsID"`
	SDKReferenceNumber string          `json:"sdkReferenceNumber"`
	DeviceInfo         string          `json:"deviceInfo"`
	DSRSA              json.RawMessage `json:"dsRSAPrivateKey"`
	DSEC               json.RawMessage `json:"dsECPrivateKey"`
	SDKEphemForDD      json.RawMessage `json:"sdkEphemeralPrivateKeyForDeviceData"`
	DeviceDataCEK      string          `json:"deviceDataECDHCEK"`
	ACSRSA             json.RawMessage `json:"acsRSAPrivateKey"`
	ACSEC              json.RawMessage `json:"acsECPrivateKey"`
	ACSContent         string          `json:"acsContent"`
	ACSURL             string          `json:"acsURL"`
	ACSEphemForSC      string          `json:"acsEphemPubKeyForSignedContent"`
	SDKEphemForSC      string          `json:"sdkEphemPubKeyForSignedContent"`
	Example7           struct {
		SDKEphemPubKey   string `json:"sdkEphemPubKey"`
		ACSEphemPrivateD string `json:"acsEphemPrivateD"`
		ACSEphemPubKey   string `json:"acsEphemPubKey"`
		SDKEphemPrivateD string `json:"sdkEphemPrivateD"`
		Z, CEK           string
	} `json:"example7"`
}

type emvcoMessages struct {
	SDKEncData []struct {
		Name, Key, JWE string
	} `json:"sdkEncData"`
	ACSSignedContent []struct {
		Name, Key, Cert            string
		Header, Payload, Signature string
	} `json:"acsSignedContent"`
}

func loadVectors(t testing.TB) (emvcoKeys, emvcoMessages) {
	var k emvcoKeys
	var m emvcoMessages
	loadJSON(t, "emvco_keys.json", &k)
	loadJSON(t, "emvco_messages.json", &m)
	return k, m
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func privFromD(t testing.TB, d string) *ecdh.PrivateKey {
	t.Helper()
	b, _ := base64.RawURLEncoding.DecodeString(d)
	k, err := ecdh.P256().NewPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func readCert(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Example 7/8 and DESIGN.md: the session key from Z, and from both sides'
// ephemeral keys.
func TestVectorSessionKey(t *testing.T) {
	v, _ := loadVectors(t)
	e := v.Example7
	want := unhex(t, e.CEK)
	if got := KDF3DS(unhex(t, e.Z), v.SDKReferenceNumber); !equalHex(got, want) {
		t.Fatalf("KDF3DS(Z) = %X, want %X", got, want)
	}
	sdkPub, err := ParsePeerKey([]byte(e.SDKEphemPubKey), "sdkEphemPubKey")
	if err != nil {
		t.Fatal(err)
	}
	acsPriv := privFromD(t, e.ACSEphemPrivateD)
	if got := string(PublicJWK(acsPriv.PublicKey())); got != e.ACSEphemPubKey {
		t.Fatalf("ACS ephemeral JWK = %s, want %s", got, e.ACSEphemPubKey)
	}
	cek, err := deriveSessionKey(acsPriv, sdkPub, v.SDKReferenceNumber)
	if err != nil || !equalHex(cek, want) {
		t.Fatalf("ACS side (Example 7): %X, %v; want %X", cek, err, want)
	}
	// Example 8, the SDK side, computed without this package's ECDH.
	acsPub, _ := ParsePeerKey([]byte(e.ACSEphemPubKey), "acsEphemPubKey")
	z, _ := privFromD(t, e.SDKEphemPrivateD).ECDH(acsPub)
	if got := KDF3DS(z, v.SDKReferenceNumber); !equalHex(got, want) {
		t.Fatalf("SDK side (Example 8): %X, want %X", got, want)
	}
}

// ConcatKDF against JOSE's own example (RFC 7518 appendix C), which uses
// AlgorithmID, PartyUInfo and PartyVInfo and a 128-bit output.
func TestConcatKDFRFC7518(t *testing.T) {
	z := []byte{158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156,
		251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196}
	got := ConcatKDF(z, []byte("A128GCM"), []byte("Alice"), []byte("Bob"), 128)
	if b64(got) != "VqqN6vgjbSBcIijNcacQGg" {
		t.Fatalf("ConcatKDF = %s", b64(got))
	}
	if n := len(ConcatKDF(z, nil, nil, nil, 520)); n != 65 { // three SHA-256 rounds, truncated
		t.Fatalf("520-bit output is %d bytes", n)
	}
}

// Examples 1-4: device data decrypted by the DS under RSA and EC keys.
func TestVectorSdkEncData(t *testing.T) {
	v, m := loadVectors(t)
	rsaKey := vectorKey(t, v.DSRSA, keys.EncryptDecrypt)
	ecKey := vectorKey(t, v.DSEC, keys.KeyAgreement)
	for _, ex := range m.SDKEncData {
		t.Run(ex.Name, func(t *testing.T) {
			key := rsaKey
			if ex.Key == "ec" {
				key = ecKey
			}
			pt, _, err := DecryptSdkEncData(context.Background(), key, ex.JWE, SdkEncOptions{DSID: v.DSID})
			if err != nil {
				t.Fatalf("DecryptSdkEncData: %v", err)
			}
			if string(pt) != v.DeviceInfo {
				t.Fatalf("plaintext = %s", pt)
			}
		})
	}
}

// The ECDH-ES examples' CEK is the 3DS Concat KDF with PartyVInfo = DS ID.
func TestVectorDeviceDataCEK(t *testing.T) {
	v, _ := loadVectors(t)
	sdk := jwkKey(t, v.SDKEphemForDD)
	ds := jwkKey(t, v.DSEC)
	type ecdher interface {
		ECDH() (*ecdh.PrivateKey, error)
	}
	sdkPriv, _ := sdk.(ecdher).ECDH()
	dsPriv, _ := ds.(ecdher).ECDH()
	z, err := sdkPriv.ECDH(dsPriv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if got := KDF3DS(z, v.DSID); !equalHex(got, unhex(t, v.DeviceDataCEK)) {
		t.Fatalf("CEK = %X, want %s", got, v.DeviceDataCEK)
	}
}

// Examples 5 and 6: our acsSignedContent has the sample's exact header and
// payload bytes, the sample's own signature verifies over them, and so does
// ours.
func TestVectorACSSignedContent(t *testing.T) {
	v, m := loadVectors(t)
	acsEphem, err := ParsePeerKey([]byte(v.ACSEphemForSC), "acsEphemPubKey")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range m.ACSSignedContent {
		t.Run(ex.Name, func(t *testing.T) {
			raw := v.ACSRSA
			if ex.Key == "ec" {
				raw = v.ACSEC
			}
			key := vectorKey(t, raw, keys.SignVerify)
			leaf := readCert(t, ex.Cert)
			jws, err := SignACSContent(context.Background(), key, [][]byte{leaf.Raw}, v.ACSURL, acsEphem, []byte(v.SDKEphemForSC))
			if err != nil {
				t.Fatalf("SignACSContent: %v", err)
			}
			parts := strings.Split(jws, ".")
			if parts[0] != ex.Header || parts[1] != ex.Payload {
				t.Fatalf("header/payload differ from the sample:\n%s.%s", parts[0], parts[1])
			}
			alg := map[string]string{"rsa": "PS256", "ec": "ES256"}[ex.Key]
			digest := sha256.Sum256([]byte(ex.Header + "." + ex.Payload))
			sampleSig, _ := base64.RawURLEncoding.DecodeString(ex.Signature)
			if !verifySig(leaf.PublicKey, alg, digest[:], sampleSig) {
				t.Fatal("the sample's signature does not verify under its certificate")
			}
			ours, _ := base64.RawURLEncoding.DecodeString(parts[2])
			if !verifySig(leaf.PublicKey, alg, digest[:], ours) {
				t.Fatal("our signature does not verify")
			}
			verifyWithGoJose(t, jws, readCert(t, "ds_root_cert.pem"), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), v.ACSContent)
		})
	}
}

func equalHex(a, b []byte) bool { return hex.EncodeToString(a) == hex.EncodeToString(b) }
