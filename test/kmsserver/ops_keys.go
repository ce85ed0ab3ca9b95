package kmsserver

import (
	"crypto"
	"crypto/x509"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

type createKeyRequest struct {
	Policy                         string
	Description                    string
	KeyUsage                       string
	CustomerMasterKeySpec          string
	KeySpec                        string
	Origin                         string
	CustomKeyStoreId               string
	BypassPolicyLockoutSafetyCheck bool
	Tags                           []tag
	MultiRegion                    bool
	XksKeyId                       string
}

func createKey(s *Server, c *call) (any, *kmsError) {
	var req createKeyRequest
	if kerr := decode(c, &req); kerr != nil {
		return nil, kerr
	}
	spec, usage := req.KeySpec, req.KeyUsage
	if spec == "" {
		spec = req.CustomerMasterKeySpec
	}
	if spec == "" {
		spec = "SYMMETRIC_DEFAULT"
	}
	if usage == "" {
		usage = "ENCRYPT_DECRYPT"
	}
	v := &check{}
	v.enum("KeySpec", spec, keySpecs()...)
	v.enum("KeyUsage", usage, keyUsages...)
	v.enum("Origin", req.Origin, OriginKMS, OriginExternal, "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE")
	v.length("Description", len(req.Description), 0, 8192)
	for _, t := range req.Tags {
		v.length("TagKey", len(t.TagKey), 1, 128)
		v.length("TagValue", len(t.TagValue), 0, 256)
	}
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	origin := req.Origin
	if origin == "" {
		origin = OriginKMS
	}
	c.params = map[string]any{"keySpec": spec, "keyUsage": usage, "description": req.Description,
		"origin": origin, "bypassPolicyLockoutSafetyCheck": req.BypassPolicyLockoutSafetyCheck}
	if len(req.Tags) > 0 {
		c.params["tags"] = tagParams(req.Tags)
	}
	if !slices.Contains(specUsages[spec], usage) {
		return nil, validation("KeyUsage %s is not compatible with KeySpec %s", usage, spec)
	}
	if req.MultiRegion || req.CustomKeyStoreId != "" || req.XksKeyId != "" || origin != OriginKMS && origin != OriginExternal {
		return nil, errf("UnsupportedOperationException", "this test server has no multi-Region keys or custom key stores")
	}
	policy := req.Policy
	if policy == "" {
		policy = s.defaultPolicy()
	} else if kerr := checkPolicy(policy); kerr != nil {
		return nil, kerr
	} else if !req.BypassPolicyLockoutSafetyCheck && !s.allowsPolicyUpdate(policy, c.caller) {
		return nil, lockedOut()
	}
	// A key of origin EXTERNAL has no material until ImportKeyMaterial.
	state, signer, secret := PendingImport, crypto.Signer(nil), []byte(nil)
	if origin == OriginKMS {
		var err error
		if signer, secret, err = newKeyMaterial(spec); err != nil {
			return nil, errf("KMSInternalException", "%v", err)
		}
		state = Enabled
	}
	id := uuid.NewString()
	k := &key{id: id, arn: s.keyARN(id), spec: spec, usage: usage, state: state,
		description: req.Description, policy: policy, created: now(), tags: req.Tags,
		signer: signer, secret: secret, origin: origin}
	s.mu.Lock()
	s.keys[id] = k
	meta := s.metadata(k)
	s.mu.Unlock()
	c.resources = append(c.resources, k.arn)
	c.response = map[string]any{"keyMetadata": map[string]any{"keyId": id, "arn": k.arn,
		"keySpec": spec, "keyUsage": usage, "keyState": state, "origin": origin}}
	return map[string]any{"KeyMetadata": meta}, nil
}

// keyRef is the request of every operation that takes only a KeyId.
type keyRef struct {
	KeyId       string
	GrantTokens []string
}

// withKey decodes a keyRef-shaped request and runs fn on the key under the
// lock, whatever its state.
func withKey(c *call, s *Server, req any, keyID func() string, fn func(k *key) (any, *kmsError)) (any, *kmsError) {
	if kerr := decode(c, req); kerr != nil {
		return nil, kerr
	}
	v := &check{}
	v.required("KeyId", keyID() != "")
	if kerr := v.err(); kerr != nil {
		return nil, kerr
	}
	c.params["keyId"] = keyID()
	s.mu.Lock()
	defer s.mu.Unlock()
	k, kerr := s.resolve(keyID())
	if kerr != nil {
		return nil, kerr
	}
	c.resources = append(c.resources, k.arn)
	return fn(k)
}

func describeKey(s *Server, c *call) (any, *kmsError) {
	var req keyRef
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		return map[string]any{"KeyMetadata": s.metadata(k)}, nil
	})
}

func getPublicKey(s *Server, c *call) (any, *kmsError) {
	var req keyRef
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		if k.spec == "SYMMETRIC_DEFAULT" || strings.HasPrefix(k.spec, "HMAC_") {
			return nil, errf("UnsupportedOperationException", "%s key spec %s has no public key.", k.arn, k.spec)
		}
		if kerr := k.enabled(); kerr != nil {
			return nil, kerr
		}
		der, err := x509.MarshalPKIXPublicKey(k.signer.Public())
		if err != nil {
			return nil, errf("KMSInternalException", "%v", err)
		}
		out := map[string]any{"KeyId": k.arn, "PublicKey": der, "KeySpec": k.spec,
			"CustomerMasterKeySpec": k.spec, "KeyUsage": k.usage}
		for name, algs := range algorithms(k) {
			out[name] = algs
		}
		return out, nil
	})
}

func enableKey(s *Server, c *call) (any, *kmsError) {
	return setState(s, c, Enabled)
}

func disableKey(s *Server, c *call) (any, *kmsError) {
	return setState(s, c, Disabled)
}

func setState(s *Server, c *call, state string) (any, *kmsError) {
	var req keyRef
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		if k.state == PendingDeletion || k.state == PendingImport {
			return nil, k.enabled()
		}
		k.state = state
		return map[string]any{}, nil
	})
}

type scheduleDeletionRequest struct {
	KeyId               string
	PendingWindowInDays *int
}

func scheduleKeyDeletion(s *Server, c *call) (any, *kmsError) {
	var req scheduleDeletionRequest
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		days := 30
		if req.PendingWindowInDays != nil {
			days = *req.PendingWindowInDays
		}
		if days < 7 || days > 30 {
			return nil, validation("Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
		}
		if k.state == PendingDeletion {
			return nil, errf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
		}
		c.params["pendingWindowInDays"] = days
		k.state = PendingDeletion
		k.deletion = now().Add(time.Duration(days) * 24 * time.Hour).Truncate(24 * time.Hour)
		return map[string]any{"KeyId": k.arn, "DeletionDate": epoch(k.deletion),
			"KeyState": k.state, "PendingWindowInDays": days}, nil
	})
}

func cancelKeyDeletion(s *Server, c *call) (any, *kmsError) {
	var req keyRef
	return withKey(c, s, &req, func() string { return req.KeyId }, func(k *key) (any, *kmsError) {
		if k.state != PendingDeletion {
			return nil, errf("KMSInvalidStateException", "%s is not pending deletion.", k.arn)
		}
		// KMS leaves a key whose deletion was cancelled disabled, or
		// pending import if it has no material.
		k.state, k.deletion = Disabled, time.Time{}
		if k.signer == nil && k.secret == nil {
			k.state = PendingImport
		}
		return map[string]any{"KeyId": k.arn}, nil
	})
}

// metadata is a key's KeyMetadata. The caller holds s.mu.
func (s *Server) metadata(k *key) map[string]any {
	m := map[string]any{"AWSAccountId": s.Account, "KeyId": k.id, "Arn": k.arn,
		"CreationDate": epoch(k.created), "Enabled": k.state == Enabled, "Description": k.description,
		"KeyUsage": k.usage, "KeyState": k.state, "Origin": k.origin, "KeyManager": "CUSTOMER",
		"CustomerMasterKeySpec": k.spec, "KeySpec": k.spec, "MultiRegion": false}
	if k.state == PendingDeletion {
		m["DeletionDate"] = epoch(k.deletion)
	}
	if k.expirationModel != "" {
		m["ExpirationModel"] = k.expirationModel
	}
	if !k.validTo.IsZero() {
		m["ValidTo"] = epoch(k.validTo)
	}
	for name, algs := range algorithms(k) {
		m[name] = algs
	}
	return m
}

// algorithms lists what a key can do, under KMS's member names.
func algorithms(k *key) map[string][]string {
	switch {
	case k.usage == "ENCRYPT_DECRYPT" && k.spec == "SYMMETRIC_DEFAULT":
		return map[string][]string{"EncryptionAlgorithms": {"SYMMETRIC_DEFAULT"}}
	case k.usage == "ENCRYPT_DECRYPT":
		return map[string][]string{"EncryptionAlgorithms": {"RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"}}
	case k.usage == "KEY_AGREEMENT":
		return map[string][]string{"KeyAgreementAlgorithms": {"ECDH"}}
	case k.usage == "GENERATE_VERIFY_MAC":
		return map[string][]string{"MacAlgorithms": {"HMAC_SHA_" + k.spec[len("HMAC_"):]}}
	case k.spec == "ECC_NIST_P256":
		return map[string][]string{"SigningAlgorithms": {"ECDSA_SHA_256"}}
	case k.spec == "ECC_NIST_P384":
		return map[string][]string{"SigningAlgorithms": {"ECDSA_SHA_384"}}
	case k.spec == "ECC_NIST_P521":
		return map[string][]string{"SigningAlgorithms": {"ECDSA_SHA_512"}}
	}
	return map[string][]string{"SigningAlgorithms": signingAlgorithms[:6]}
}

// epoch is a timestamp as AWS JSON 1.1 sends it: seconds since the epoch.
func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }
