package kmsserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strings"
)

type signRequest struct {
	KeyId            string
	Message          []byte
	MessageType      string
	SigningAlgorithm string
	Signature        []byte // Verify only
	GrantTokens      []string
	DryRun           *bool
}

func sign(s *Server, c *call) (any, *kmsError) {
	req, k, digest, kerr := signInput(s, c)
	if kerr != nil {
		return nil, kerr
	}
	if req.Signature != nil {
		return nil, validation("Unknown field Signature in SignRequest")
	}
	var opts crypto.SignerOpts = hashOf(req.SigningAlgorithm)
	if strings.HasPrefix(req.SigningAlgorithm, "RSASSA_PSS") {
		// KMS's PSS salt is as long as the digest.
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hashOf(req.SigningAlgorithm)}
	}
	sig, err := k.signer.Sign(rand.Reader, digest, opts) // ECDSA: ASN.1 DER, like KMS
	if err != nil {
		return nil, errf("KMSInternalException", "%v", err)
	}
	return map[string]any{"KeyId": k.arn, "Signature": sig, "SigningAlgorithm": req.SigningAlgorithm}, nil
}

func verify(s *Server, c *call) (any, *kmsError) {
	req, k, digest, kerr := signInput(s, c)
	if kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("Signature", req.Signature != nil)
	v.length("Signature", len(req.Signature), 1, 6144)
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	h := hashOf(req.SigningAlgorithm)
	var ok bool
	switch pub := k.signer.Public().(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, digest, req.Signature)
	case *rsa.PublicKey:
		if strings.HasPrefix(req.SigningAlgorithm, "RSASSA_PSS") {
			ok = rsa.VerifyPSS(pub, h, digest, req.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(pub, h, digest, req.Signature) == nil
		}
	}
	if !ok {
		return nil, errf("KMSInvalidSignatureException", "")
	}
	return map[string]any{"KeyId": k.arn, "SignatureValid": true, "SigningAlgorithm": req.SigningAlgorithm}, nil
}

// signInput validates a Sign or Verify request and returns the digest to
// sign: the message hashed for RAW, the message itself for DIGEST.
func signInput(s *Server, c *call) (*signRequest, *key, []byte, *kmsError) {
	req := &signRequest{}
	if kerr := decode(c, req); kerr != nil {
		return nil, nil, nil, kerr
	}
	v := &check{}
	v.required("KeyId", req.KeyId != "")
	v.required("Message", req.Message != nil)
	v.length("Message", len(req.Message), 1, 4096)
	v.required("SigningAlgorithm", req.SigningAlgorithm != "")
	v.enum("SigningAlgorithm", req.SigningAlgorithm, signingAlgorithms...)
	v.enum("MessageType", req.MessageType, messageTypes...)
	if kerr := v.err(); kerr != nil {
		return nil, nil, nil, kerr
	}
	if req.MessageType == "" {
		req.MessageType = "RAW"
	}
	c.params = map[string]any{"keyId": req.KeyId, "messageType": req.MessageType, "signingAlgorithm": req.SigningAlgorithm}
	if req.DryRun != nil && *req.DryRun {
		return nil, nil, nil, errf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	k, kerr := s.usable(c, req.KeyId, "SIGN_VERIFY")
	if kerr != nil {
		return nil, nil, nil, kerr
	}
	if !slices.Contains(algorithms(k)["SigningAlgorithms"], req.SigningAlgorithm) {
		return nil, nil, nil, errf("InvalidKeyUsageException", "Signing algorithm %s is not valid for %s key spec %s.", req.SigningAlgorithm, k.arn, k.spec)
	}
	h := hashOf(req.SigningAlgorithm)
	if req.MessageType == "DIGEST" {
		if len(req.Message) != h.Size() {
			return nil, nil, nil, errf("ValidationException", "Digest is invalid length for algorithm %s.", req.SigningAlgorithm)
		}
		return req, k, req.Message, nil
	}
	hh := h.New()
	hh.Write(req.Message)
	return req, k, hh.Sum(nil), nil
}

// hashOf is the hash of a KMS signing or MAC algorithm, from its suffix.
func hashOf(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "_224"):
		return crypto.SHA224
	case strings.HasSuffix(alg, "_256"):
		return crypto.SHA256
	case strings.HasSuffix(alg, "_384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "_512"):
		return crypto.SHA512
	}
	return 0
}
