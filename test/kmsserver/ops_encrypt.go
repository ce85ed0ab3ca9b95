package kmsserver

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"hash"
	"slices"
)

type encryptRequest struct {
	KeyId               string
	Plaintext           []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
	GrantTokens         []string
	DryRun              *bool
}

func encrypt(s *Server, c *call) (any, *kmsError) {
	var req encryptRequest
	if kerr := decode(c, &req); kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("KeyId", req.KeyId != "")
	v.required("Plaintext", req.Plaintext != nil)
	v.length("Plaintext", len(req.Plaintext), 1, 4096)
	v.enum("EncryptionAlgorithm", req.EncryptionAlgorithm, encryptionAlgorithms...)
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	alg := req.EncryptionAlgorithm
	if alg == "" {
		alg = "SYMMETRIC_DEFAULT"
	}
	c.params = map[string]any{"keyId": req.KeyId, "encryptionAlgorithm": alg, "encryptionContext": contextParam(req.EncryptionContext)}
	if req.DryRun != nil && *req.DryRun {
		return nil, errf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	k, kerr := s.usable(c, req.KeyId, "ENCRYPT_DECRYPT")
	if kerr != nil {
		return nil, kerr
	}
	if !slices.Contains(algorithms(k)["EncryptionAlgorithms"], alg) {
		return nil, errf("InvalidKeyUsageException", "Encryption algorithm %s is not valid for %s key spec %s.", alg, k.arn, k.spec)
	}
	var blob []byte
	if k.spec == "SYMMETRIC_DEFAULT" {
		blob = seal(k, req.Plaintext, req.EncryptionContext)
	} else {
		if len(req.EncryptionContext) > 0 {
			return nil, errf("ValidationException", "EncryptionContext is not supported with asymmetric keys.")
		}
		pub := k.signer.Public().(*rsa.PublicKey)
		var err error
		blob, err = rsa.EncryptOAEP(oaepHash(alg), rand.Reader, pub, req.Plaintext, nil)
		if err != nil {
			return nil, validation("Value at 'plaintext' is too long for %s with %s", k.spec, alg)
		}
	}
	return map[string]any{"CiphertextBlob": blob, "KeyId": k.arn, "EncryptionAlgorithm": alg}, nil
}

type decryptRequest struct {
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	GrantTokens         []string
	KeyId               string
	EncryptionAlgorithm string
	DryRun              *bool
	Recipient           map[string]any
}

func decrypt(s *Server, c *call) (any, *kmsError) {
	var req decryptRequest
	if kerr := decode(c, &req); kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("CiphertextBlob", req.CiphertextBlob != nil)
	v.length("CiphertextBlob", len(req.CiphertextBlob), 1, 6144)
	v.enum("EncryptionAlgorithm", req.EncryptionAlgorithm, encryptionAlgorithms...)
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	alg := req.EncryptionAlgorithm
	if alg == "" {
		alg = "SYMMETRIC_DEFAULT"
	}
	c.params = map[string]any{"encryptionAlgorithm": alg, "encryptionContext": contextParam(req.EncryptionContext)}
	if req.KeyId != "" {
		c.params["keyId"] = req.KeyId
	}
	if req.DryRun != nil && *req.DryRun {
		return nil, errf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	if req.Recipient != nil {
		return nil, errf("UnsupportedOperationException", "this test server has no Nitro enclave recipients")
	}
	keyID := req.KeyId
	if alg == "SYMMETRIC_DEFAULT" {
		// A symmetric blob names its key; a KeyId must agree with it.
		id, ok := blobKeyID(req.CiphertextBlob)
		if !ok {
			return nil, errf("InvalidCiphertextException", "")
		}
		if keyID != "" {
			s.mu.Lock()
			named, kerr := s.resolve(keyID)
			s.mu.Unlock()
			if kerr != nil {
				return nil, kerr
			}
			if named.id != id {
				return nil, errf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
			}
		}
		keyID = id
	} else if keyID == "" {
		return nil, validation("Value null at 'keyId' failed to satisfy constraint: asymmetric decryption needs a KeyId")
	}
	k, kerr := s.usable(c, keyID, "ENCRYPT_DECRYPT")
	if kerr != nil {
		if kerr.Type == "NotFoundException" && req.KeyId == "" {
			return nil, errf("InvalidCiphertextException", "")
		}
		return nil, kerr
	}
	if !slices.Contains(algorithms(k)["EncryptionAlgorithms"], alg) {
		return nil, errf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
	}
	var plain []byte
	if k.spec == "SYMMETRIC_DEFAULT" {
		var ok bool
		if plain, ok = open(k, req.CiphertextBlob, req.EncryptionContext); !ok {
			return nil, errf("InvalidCiphertextException", "")
		}
	} else {
		if len(req.EncryptionContext) > 0 {
			return nil, errf("ValidationException", "EncryptionContext is not supported with asymmetric keys.")
		}
		var err error
		plain, err = rsa.DecryptOAEP(oaepHash(alg), nil, k.signer.(*rsa.PrivateKey), req.CiphertextBlob, nil)
		if err != nil {
			return nil, errf("InvalidCiphertextException", "")
		}
	}
	return map[string]any{"KeyId": k.arn, "Plaintext": plain, "EncryptionAlgorithm": alg}, nil
}

func oaepHash(alg string) hash.Hash {
	if alg == "RSAES_OAEP_SHA_1" {
		return sha1.New()
	}
	return sha256.New()
}

// contextParam is the encryption context as CloudTrail shows it (KMS logs
// it in full; keygate's own audit is what must not).
func contextParam(ec map[string]string) any {
	if len(ec) == 0 {
		return nil
	}
	return ec
}
