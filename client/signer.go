package client

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Signer is a crypto.Signer whose private key stays in keygate's backend.
// The public key is fetched once, when the Signer is made, and names the
// key version it belongs to: after a rotation, make a new Signer.
type Signer struct {
	c       *Client
	keyID   string
	version uint32
	pub     crypto.PublicKey
	algs    map[string]bool
}

// Signer returns a crypto.Signer for the SIGN_VERIFY key keyID. It works
// unchanged with crypto/x509 (CreateCertificateRequest), crypto/tls and
// go-jose; each Sign is one keygate Sign of the digest (message type
// DIGEST), audited and checked against the key policy like any other.
func (c *Client) Signer(ctx context.Context, keyID string) (*Signer, error) {
	resp, err := c.Crypto.GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: keyID})
	if err != nil {
		return nil, err
	}
	if resp.KeyUsage != "SIGN_VERIFY" {
		return nil, fmt.Errorf("client: key %s has usage %s, not SIGN_VERIFY", keyID, resp.KeyUsage)
	}
	pub, err := x509.ParsePKIXPublicKey(resp.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("client: key %s: public key: %w", keyID, err)
	}
	s := &Signer{c: c, keyID: keyID, version: resp.KeyVersion, pub: pub, algs: map[string]bool{}}
	for _, a := range resp.SigningAlgorithms {
		s.algs[a] = true
	}
	return s, nil
}

// Public is the key version's public key (*ecdsa.PublicKey or *rsa.PublicKey).
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// KeyVersion is the version whose public key Public returns.
func (s *Signer) KeyVersion() uint32 { return s.version }

// Sign signs digest with the client's default timeout; rand is unused (the
// backend has its own). See SignContext.
func (s *Signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.SignContext(context.Background(), digest, opts)
}

// SignContext signs digest under ctx. ECDSA signatures are ASN.1 DER, as
// crypto.Signer requires; RSA-PSS uses a salt as long as the hash, as
// KMS does, so a request for another fixed salt length is refused.
func (s *Signer) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	alg, err := s.algorithm(opts)
	if err != nil {
		return nil, err
	}
	if len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("client: digest is %d bytes; %s needs %d", len(digest), alg, opts.HashFunc().Size())
	}
	resp, err := s.c.Crypto.Sign(ctx, &pb.SignRequest{KeyId: s.keyID, Message: digest, MessageType: "DIGEST", SigningAlgorithm: alg})
	if err != nil {
		return nil, err
	}
	if resp.KeyVersion != s.version {
		// The key was rotated since this Signer was made: the signature
		// would not verify against Public.
		return nil, fmt.Errorf("client: key %s signed with version %d, this Signer holds version %d's public key; make a new Signer",
			s.keyID, resp.KeyVersion, s.version)
	}
	return resp.Signature, nil
}

// algorithm maps SignerOpts to a KMS signing algorithm the key supports,
// before any call is made.
func (s *Signer) algorithm(opts crypto.SignerOpts) (string, error) {
	if opts == nil {
		return "", fmt.Errorf("client: SignerOpts are required")
	}
	h := opts.HashFunc()
	bits := map[crypto.Hash]string{crypto.SHA256: "256", crypto.SHA384: "384", crypto.SHA512: "512"}[h]
	if bits == "" {
		return "", fmt.Errorf("client: key %s cannot sign with hash %v (SHA-256, SHA-384 or SHA-512)", s.keyID, h)
	}
	var alg string
	switch s.pub.(type) {
	case *ecdsa.PublicKey:
		alg = "ECDSA_SHA_" + bits
	case *rsa.PublicKey:
		alg = "RSASSA_PKCS1_V1_5_SHA_" + bits
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			// Auto lets the signer choose; keygate's backends (like KMS)
			// always choose the hash length, which every verifier of
			// PS256 (RFC 7518) and 3DS accepts.
			if pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength != rsa.PSSSaltLengthAuto && pss.SaltLength != h.Size() {
				return "", fmt.Errorf("client: key %s: RSA-PSS salt length %d; keygate's PSS salt is the hash length", s.keyID, pss.SaltLength)
			}
			alg = "RSASSA_PSS_SHA_" + bits
		}
	default:
		return "", fmt.Errorf("client: key %s: unsupported public key %T", s.keyID, s.pub)
	}
	if !s.algs[alg] {
		return "", fmt.Errorf("client: key %s cannot sign with %s", s.keyID, alg)
	}
	return alg, nil
}
