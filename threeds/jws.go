package threeds

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"math/big"
	"net/url"
	"sync"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// maxACSURL is the EMV 3DS length limit of acsURL.
const maxACSURL = 2048

// SignACSContent builds acsSignedContent: a JWS compact serialization with
// protected header {"alg":"ES256"|"PS256","x5c":[…]} and payload
// {"acsEphemPubKey":…,"sdkEphemPubKey":…,"acsURL":…}, members in the order of
// the EMVCo worked samples. sdkEphemPubKey is placed byte for byte as the SDK
// sent it (after validation), never re-serialized; acsEphemPub is written as
// PublicJWK. chain is the signing key version's certificate chain, DER, leaf
// first; the leaf must certify key's public key.
//
// key must be a SIGN_VERIFY key: ECC_NIST_P256 signs ES256 (the backend's DER
// signature converted to JOSE's raw r||s), RSA signs PS256 (RSASSA-PSS with
// SHA-256 and a 32-byte salt). The signature is verified against the leaf
// before it is returned, so a backend answering with the wrong key is caught.
func SignACSContent(ctx context.Context, key backends.Key, chain [][]byte, acsURL string,
	acsEphemPub *ecdh.PublicKey, sdkEphemPubKey []byte) (string, error) {
	if _, err := ParsePeerKey(sdkEphemPubKey, "sdkEphemPubKey"); err != nil {
		return "", err
	}
	if err := checkACSURL(acsURL); err != nil {
		return "", err
	}
	if acsEphemPub == nil || acsEphemPub.Curve() != ecdh.P256() {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "acsEphemPubKey must be a P-256 key")
	}
	alg, sigAlg, err := jwsAlgorithm(key)
	if err != nil {
		return "", err
	}
	leaf, err := checkChain(chain, key)
	if err != nil {
		return "", err
	}

	return signContent(ctx, key, alg, sigAlg, leaf, chain, acsURL, acsEphemPub, sdkEphemPubKey)
}

// signContent is SignACSContent after its checks.
func signContent(ctx context.Context, key backends.Key, alg string, sigAlg keys.SigningAlgorithm,
	leaf *x509.Certificate, chain [][]byte, acsURL string, acsEphemPub *ecdh.PublicKey, sdkEphemPubKey []byte) (string, error) {
	var hdr bytes.Buffer
	hdr.WriteString(`{"alg":"` + alg + `","x5c":[`)
	for i, der := range chain {
		if i > 0 {
			hdr.WriteByte(',')
		}
		hdr.WriteString(`"` + base64.StdEncoding.EncodeToString(der) + `"`)
	}
	hdr.WriteString(`]}`)

	var payload bytes.Buffer
	payload.WriteString(`{"acsEphemPubKey":`)
	payload.Write(PublicJWK(acsEphemPub))
	payload.WriteString(`,"sdkEphemPubKey":`)
	payload.Write(sdkEphemPubKey)
	payload.WriteString(`,"acsURL":`)
	payload.Write(jsonString(acsURL))
	payload.WriteString(`}`)

	input := b64(hdr.Bytes()) + "." + b64(payload.Bytes())
	// Refuse before signing: the size is known from the signature length.
	sigLen := 64
	if k, ok := leaf.PublicKey.(*rsa.PublicKey); ok {
		sigLen = k.Size()
	}
	if n := len(input) + 1 + base64.RawURLEncoding.EncodedLen(sigLen); n > MaxACSSignedContent {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "acsSignedContent would be %d characters; EMV 3DS 2.3.1 allows at most %d (the key version's x5c chain is too long)", n, MaxACSSignedContent)
	}
	digest := sha256.Sum256([]byte(input))
	sig, err := key.Sign(ctx, sigAlg, digest[:])
	if err != nil {
		return "", err
	}
	if alg == "ES256" {
		if sig, err = derToRaw(sig); err != nil {
			return "", kgerr.Wrap(kgerr.Internal, err, "backend returned a malformed ECDSA signature")
		}
	}
	if !verifySig(leaf.PublicKey, alg, digest[:], sig) {
		return "", kgerr.Errorf(kgerr.Internal, "backend signature does not verify under the certificate's key")
	}
	return input + "." + b64(sig), nil
}

// jwsAlgorithm maps a signing key to its JWS alg and KMS algorithm.
func jwsAlgorithm(key backends.Key) (string, keys.SigningAlgorithm, error) {
	if key == nil {
		return "", "", kgerr.Errorf(kgerr.FailedPrecondition, "no ACS signing key")
	}
	if key.Usage() != keys.SignVerify {
		return "", "", kgerr.Errorf(kgerr.FailedPrecondition, "the ACS signing key must have usage SIGN_VERIFY, not %s", key.Usage())
	}
	switch spec := key.Spec(); {
	case spec == keys.ECCNISTP256:
		return "ES256", keys.ECDSASHA256, nil
	case spec.IsRSA():
		return "PS256", keys.RSASSAPSSSHA256, nil
	default:
		return "", "", kgerr.Errorf(kgerr.FailedPrecondition, "the ACS signing key must be ECC_NIST_P256 or RSA, not %s", spec)
	}
}

// checkChain parses every certificate and checks that the leaf certifies
// key's public key.
func checkChain(chain [][]byte, key backends.Key) (*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "the signing key version has no certificate chain")
	}
	leaf, err := parsedChains.leaf(chain)
	if err != nil {
		return nil, err
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || key.Public() == nil || !pub.Equal(key.Public()) {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "the leaf certificate does not certify the signing key's public key")
	}
	return leaf, nil
}

// parsedChains remembers the leaf of each chain that parsed whole: a key
// version's chain is the same on every CreateAcsSession, and parsing it
// each time was 4 % of the call. Chains change only when a certificate is
// imported, so a few dozen entries hold them all; the cache starts over
// when full. The certificates are only read once parsed.
var parsedChains = chainCache{m: map[[32]byte]*x509.Certificate{}}

const maxParsedChains = 64

type chainCache struct {
	mu sync.Mutex
	m  map[[32]byte]*x509.Certificate
}

func (c *chainCache) leaf(chain [][]byte) (*x509.Certificate, error) {
	h := sha256.New()
	for _, der := range chain {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(der)))
		h.Write(n[:])
		h.Write(der)
	}
	var id [32]byte
	h.Sum(id[:0])
	c.mu.Lock()
	leaf := c.m[id]
	c.mu.Unlock()
	if leaf != nil {
		return leaf, nil
	}
	for i, der := range chain {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, kgerr.Wrap(kgerr.FailedPrecondition, err, "the signing key version's certificate chain does not parse")
		}
		if i == 0 {
			leaf = cert
		}
	}
	c.mu.Lock()
	if len(c.m) >= maxParsedChains {
		clear(c.m)
	}
	c.m[id] = leaf
	c.mu.Unlock()
	return leaf, nil
}

func checkACSURL(s string) error {
	if s == "" || len(s) > maxACSURL {
		return kgerr.Errorf(kgerr.InvalidArgument, "acsURL must be 1 to %d characters", maxACSURL)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return kgerr.Errorf(kgerr.InvalidArgument, "acsURL must be an absolute http(s) URL")
	}
	return nil
}

// derToRaw converts an ASN.1 DER ECDSA-Sig-Value to JOSE's fixed-width
// r||s for P-256 (RFC 7518 section 3.4).
func derToRaw(der []byte) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 || v.R.Sign() <= 0 || v.S.Sign() <= 0 ||
		v.R.BitLen() > 256 || v.S.BitLen() > 256 {
		return nil, asn1.SyntaxError{Msg: "not a P-256 ECDSA signature"}
	}
	raw := make([]byte, 64)
	v.R.FillBytes(raw[:32])
	v.S.FillBytes(raw[32:])
	return raw, nil
}

// verifySig checks a JWS signature (raw r||s for ES256) over digest.
func verifySig(pub crypto.PublicKey, alg string, digest, sig []byte) bool {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if alg != "ES256" || len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, digest, r, s)
	case *rsa.PublicKey:
		return alg == "PS256" && rsa.VerifyPSS(k, crypto.SHA256, digest, sig,
			&rsa.PSSOptions{SaltLength: 32, Hash: crypto.SHA256}) == nil
	}
	return false
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
