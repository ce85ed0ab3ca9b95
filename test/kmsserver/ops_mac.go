package kmsserver

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/x509"
	"slices"
)

type dataKeyRequest struct {
	KeyId             string
	EncryptionContext map[string]string
	NumberOfBytes     *int
	KeySpec           string
	GrantTokens       []string
	DryRun            *bool
	Recipient         map[string]any
}

func generateDataKey(s *Server, c *call) (any, *kmsError) {
	var req dataKeyRequest
	if kerr := decode(c, &req); kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("KeyId", req.KeyId != "")
	v.enum("KeySpec", req.KeySpec, "AES_256", "AES_128")
	if req.NumberOfBytes != nil && (*req.NumberOfBytes < 1 || *req.NumberOfBytes > 1024) {
		v.add("Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", *req.NumberOfBytes)
	}
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	if (req.NumberOfBytes == nil) == (req.KeySpec == "") {
		return nil, errf("ValidationException", "Please specify either number of bytes or key spec.")
	}
	c.params = map[string]any{"keyId": req.KeyId, "encryptionContext": contextParam(req.EncryptionContext)}
	n := 0
	switch {
	case req.KeySpec == "AES_256":
		n, c.params["keySpec"] = 32, req.KeySpec
	case req.KeySpec == "AES_128":
		n, c.params["keySpec"] = 16, req.KeySpec
	default:
		n, c.params["numberOfBytes"] = *req.NumberOfBytes, *req.NumberOfBytes
	}
	if req.DryRun != nil && *req.DryRun {
		return nil, errf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	k, kerr := s.usable(c, req.KeyId, "ENCRYPT_DECRYPT")
	if kerr != nil {
		return nil, kerr
	}
	if k.spec != "SYMMETRIC_DEFAULT" {
		return nil, errf("InvalidKeyUsageException", "%s key spec %s cannot generate data keys.", k.arn, k.spec)
	}
	plain := randBytes(n)
	return map[string]any{"KeyId": k.arn, "Plaintext": plain, "CiphertextBlob": seal(k, plain, req.EncryptionContext)}, nil
}

type macRequest struct {
	KeyId        string
	Message      []byte
	MacAlgorithm string
	Mac          []byte // VerifyMac only
	GrantTokens  []string
	DryRun       *bool
}

func generateMac(s *Server, c *call) (any, *kmsError) {
	req, mac, kerr := macInput(s, c)
	if kerr != nil {
		return nil, kerr
	}
	if req.Mac != nil {
		return nil, validation("Unknown field Mac in GenerateMacRequest")
	}
	return map[string]any{"KeyId": c.resources[0], "Mac": mac, "MacAlgorithm": req.MacAlgorithm}, nil
}

func verifyMac(s *Server, c *call) (any, *kmsError) {
	req, mac, kerr := macInput(s, c)
	if kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("Mac", req.Mac != nil)
	v.length("Mac", len(req.Mac), 1, 6144)
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	if !hmac.Equal(mac, req.Mac) {
		return nil, errf("KMSInvalidMacException", "")
	}
	return map[string]any{"KeyId": c.resources[0], "MacValid": true, "MacAlgorithm": req.MacAlgorithm}, nil
}

// macInput validates a GenerateMac or VerifyMac request and computes the MAC.
func macInput(s *Server, c *call) (*macRequest, []byte, *kmsError) {
	req := &macRequest{}
	if kerr := decode(c, req); kerr != nil {
		return nil, nil, kerr
	}
	v := &check{}
	v.required("KeyId", req.KeyId != "")
	v.required("Message", req.Message != nil)
	v.length("Message", len(req.Message), 1, 4096)
	v.required("MacAlgorithm", req.MacAlgorithm != "")
	v.enum("MacAlgorithm", req.MacAlgorithm, macAlgorithms...)
	if kerr := v.err(); kerr != nil {
		return nil, nil, kerr
	}
	c.params = map[string]any{"keyId": req.KeyId, "macAlgorithm": req.MacAlgorithm}
	if req.DryRun != nil && *req.DryRun {
		return nil, nil, errf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	k, kerr := s.usable(c, req.KeyId, "GENERATE_VERIFY_MAC")
	if kerr != nil {
		return nil, nil, kerr
	}
	if !slices.Contains(algorithms(k)["MacAlgorithms"], req.MacAlgorithm) {
		return nil, nil, errf("InvalidKeyUsageException", "MAC algorithm %s is not valid for %s key spec %s.", req.MacAlgorithm, k.arn, k.spec)
	}
	m := hmac.New(hashOf(req.MacAlgorithm).New, k.secret)
	m.Write(req.Message)
	return req, m.Sum(nil), nil
}

type deriveRequest struct {
	KeyId                 string
	KeyAgreementAlgorithm string
	PublicKey             []byte
	GrantTokens           []string
	DryRun                *bool
	Recipient             map[string]any
}

func deriveSharedSecret(s *Server, c *call) (any, *kmsError) {
	var req deriveRequest
	if kerr := decode(c, &req); kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("KeyId", req.KeyId != "")
	v.required("KeyAgreementAlgorithm", req.KeyAgreementAlgorithm != "")
	v.enum("KeyAgreementAlgorithm", req.KeyAgreementAlgorithm, "ECDH")
	v.required("PublicKey", req.PublicKey != nil)
	v.length("PublicKey", len(req.PublicKey), 1, 8192)
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	c.params = map[string]any{"keyId": req.KeyId, "keyAgreementAlgorithm": req.KeyAgreementAlgorithm}
	if req.DryRun != nil && *req.DryRun {
		return nil, errf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	if req.Recipient != nil {
		return nil, errf("UnsupportedOperationException", "this test server has no Nitro enclave recipients")
	}
	k, kerr := s.usable(c, req.KeyId, "KEY_AGREEMENT")
	if kerr != nil {
		return nil, kerr
	}
	priv, err := k.signer.(*ecdsa.PrivateKey).ECDH()
	if err != nil {
		return nil, errf("KMSInternalException", "%v", err)
	}
	peer, kerr := peerKey(req.PublicKey, priv.Curve())
	if kerr != nil {
		return nil, kerr
	}
	z, err := priv.ECDH(peer)
	if err != nil {
		return nil, errf("ValidationException", "PublicKey is not a valid point for %s.", k.spec)
	}
	return map[string]any{"KeyId": k.arn, "SharedSecret": z, "KeyAgreementAlgorithm": "ECDH", "KeyOrigin": k.origin}, nil
}

// peerKey parses a DER SubjectPublicKeyInfo and checks it is a point on
// the key's own curve (x509 rejects points off the curve).
func peerKey(der []byte, curve ecdh.Curve) (*ecdh.PublicKey, *kmsError) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, errf("ValidationException", "PublicKey is not a DER-encoded X.509 SubjectPublicKeyInfo.")
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, errf("ValidationException", "PublicKey is not an elliptic curve key.")
	}
	peer, err := ec.ECDH()
	if err != nil || peer.Curve() != curve {
		return nil, errf("ValidationException", "PublicKey is not on the key's curve.")
	}
	return peer, nil
}
