package server

import (
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// rpc is what one method is, declared once: the interceptor reads it and
// runs identity → request validation → key resolution → policy → handler
// → audit the same way for every method. A handler never authorizes; it
// finds the resolved key and handle on its Call.
type rpc struct {
	// action is the policy action (kms:Sign, keygate:CreateAcsSession).
	action string
	// key says where the request names its key: nil when the call is about
	// no existing key (an account action such as kms:ListKeys, granted by
	// the config's admins or auditors).
	key keyLocator
	// actionOf, if set, gives the action a particular request needs
	// instead of action ("" keeps action): adopting an existing backend
	// key is not the same act as generating one.
	actionOf func(req any) string
	// creates marks a call whose key_id names the key it makes: recorded,
	// not resolved, and authorized as an account action.
	creates bool
	// usage is the key usage the call needs ("" = any). It is checked
	// after the policy allows the call, so an unauthorized caller learns
	// nothing about the key.
	usage keys.Usage
	// crypto calls use a backend handle: the key must be enabled and the
	// version usable; newOutput says whether the call makes a new output
	// (sign, encrypt) or checks an old one (verify, decrypt).
	crypto    bool
	newOutput bool
	// facts records the request's facts the policy sees (algorithm,
	// message type, encryption context) on the call. It must not fail:
	// checking the request against the key is the handler's, after Allow.
	facts func(c *Call, req any, k *keys.Key)
	// also names a second action the call implies for this key (creating
	// an ACS session signs: kms:Sign), "" for none.
	also func(k *keys.Key) string
}

// methods is every keygate RPC. Adding an RPC is one line here and a thin
// handler (see doc.go); a method missing here is refused at run time, and
// TestEveryMethodHasADescriptor fails first.
var methods = map[string]rpc{
	"/keygate.v1.CryptoService/Sign":               {action: "kms:Sign", key: byKeyID, usage: keys.SignVerify, crypto: true, newOutput: true, facts: signFacts},
	"/keygate.v1.CryptoService/Verify":             {action: "kms:Verify", key: byKeyID, usage: keys.SignVerify, crypto: true, facts: signFacts},
	"/keygate.v1.CryptoService/GetPublicKey":       {action: "kms:GetPublicKey", key: byKeyID, crypto: true},
	"/keygate.v1.CryptoService/Encrypt":            {action: "kms:Encrypt", key: byKeyID, usage: keys.EncryptDecrypt, crypto: true, newOutput: true, facts: encryptFacts},
	"/keygate.v1.CryptoService/Decrypt":            {action: "kms:Decrypt", key: byCiphertext, usage: keys.EncryptDecrypt, crypto: true, facts: decryptFacts},
	"/keygate.v1.CryptoService/GenerateDataKey":    {action: "kms:GenerateDataKey", key: byKeyID, usage: keys.EncryptDecrypt, crypto: true, newOutput: true, facts: dataKeyFacts},
	"/keygate.v1.CryptoService/GenerateMac":        {action: "kms:GenerateMac", key: byKeyID, usage: keys.GenerateVerifyMac, crypto: true, newOutput: true, facts: macFacts},
	"/keygate.v1.CryptoService/VerifyMac":          {action: "kms:VerifyMac", key: byKeyID, usage: keys.GenerateVerifyMac, crypto: true, facts: macFacts},
	"/keygate.v1.CryptoService/DeriveSharedSecret": {action: "kms:DeriveSharedSecret", key: byKeyID, usage: keys.KeyAgreement, crypto: true, newOutput: true, facts: ecdhFacts},

	"/keygate.v1.KeyAdminService/CreateKey":         {action: "kms:CreateKey", actionOf: adoptAction, key: byKeyID, creates: true},
	"/keygate.v1.KeyAdminService/DescribeKey":       {action: "kms:DescribeKey", key: byKeyID},
	"/keygate.v1.KeyAdminService/ListKeys":          {action: "kms:ListKeys"},
	"/keygate.v1.KeyAdminService/EnableKey":         {action: "kms:EnableKey", key: byKeyID},
	"/keygate.v1.KeyAdminService/DisableKey":        {action: "kms:DisableKey", key: byKeyID},
	"/keygate.v1.KeyAdminService/GetKeyPolicy":      {action: "kms:GetKeyPolicy", key: byKeyID},
	"/keygate.v1.KeyAdminService/PutKeyPolicy":      {action: "kms:PutKeyPolicy", key: byKeyID},
	"/keygate.v1.KeyAdminService/ImportCertificate": {action: "keygate:ImportCertificate", key: byKeyID},
	"/keygate.v1.KeyAdminService/GetCertificate":    {action: "kms:DescribeKey", key: byKeyID},

	"/keygate.v1.PolicyService/SimulatePolicy": {action: "kms:GetKeyPolicy", key: byKeyID},
	"/keygate.v1.PolicyService/DiffKeyPolicy":  {action: "kms:GetKeyPolicy", key: byKeyID},
	"/keygate.v1.PolicyService/PushKeyPolicy":  {action: "kms:PutKeyPolicy", key: byKeyID},

	"/keygate.v1.AuditService/ListEvents":       {action: "keygate:ReadAuditLog"},
	"/keygate.v1.AuditService/TailEvents":       {action: "keygate:ReadAuditLog"},
	"/keygate.v1.AuditService/VerifyLog":        {action: "keygate:ReadAuditLog"},
	"/keygate.v1.AuditService/GetCheckpointKey": {action: "keygate:ReadAuditLog"},
	"/keygate.v1.AuditService/ExportArchive":    {action: "keygate:ReadAuditLog"},
	"/keygate.v1.AuditService/GetInventory":     {action: "keygate:ReadAuditLog"},
	// An auditor's evidence pack is signed by the checkpoint key under its
	// own domain; the call (and so who asked) is audited like any other.
	"/keygate.v1.AuditService/SignReportManifest": {action: "keygate:ReadAuditLog"},

	"/keygate.v1.ThreeDSService/CreateAcsSession":         {action: "keygate:CreateAcsSession", key: byKeyID, usage: keys.SignVerify, crypto: true, newOutput: true, facts: acsFacts, also: alsoSign},
	"/keygate.v1.ThreeDSService/DecryptChallengeRequest":  {action: "keygate:DecryptChallengeRequest", key: bySessionKey, usage: keys.EncryptDecrypt, crypto: true},
	"/keygate.v1.ThreeDSService/EncryptChallengeResponse": {action: "keygate:EncryptChallengeResponse", key: bySessionKey, usage: keys.EncryptDecrypt, crypto: true},
	"/keygate.v1.ThreeDSService/DecryptSdkEncData":        {action: "keygate:DecryptSdkEncData", key: byKeyID, crypto: true, facts: sdkEncFacts, also: alsoSdkEnc},
}

// keyLocator finds the key a request names: its name and version (0 = the
// primary). An error is the request's fault (InvalidArgument).
type keyLocator func(s *Server, req any) (name string, version uint32, err error)

// byKeyID is the request's key_id, and key_version if it has one.
func byKeyID(_ *Server, req any) (string, uint32, error) {
	r, ok := req.(interface{ GetKeyId() string })
	if !ok {
		return "", 0, kgerr.Errorf(kgerr.Internal, "request %T has no key_id", req)
	}
	var n uint32
	if v, ok := req.(interface{ GetKeyVersion() uint32 }); ok {
		n = v.GetKeyVersion()
	}
	if r.GetKeyId() == "" {
		return "", 0, kgerr.Errorf(kgerr.InvalidArgument, "key_id is required")
	}
	return r.GetKeyId(), n, nil
}

// byCiphertext is the key version a keygate ciphertext names; a key_id
// given beside it must be the same key.
func byCiphertext(_ *Server, req any) (string, uint32, error) {
	r := req.(*pb.DecryptRequest)
	if len(r.CiphertextBlob) == 0 || len(r.CiphertextBlob) > maxCiphertextBlob {
		return "", 0, kgerr.Errorf(kgerr.InvalidArgument, "ciphertext_blob must be 1 to %d bytes", maxCiphertextBlob)
	}
	ct, err := keys.ParseCiphertext(r.CiphertextBlob)
	if err != nil {
		return "", 0, err
	}
	if r.KeyId != "" && r.KeyId != ct.Key {
		return "", 0, kgerr.Errorf(kgerr.InvalidArgument, "the ciphertext was not made by key %q", r.KeyId)
	}
	return ct.Key, ct.Version, nil
}

// bySessionKey is the configured 3DS session key: its policy says who may
// run challenges.
func bySessionKey(s *Server, _ any) (string, uint32, error) {
	return s.cfg.ThreeDS.SessionKey, 0, nil
}

// The facts functions record what the policy's condition keys see; an
// algorithm left empty is the one the key would use.

func signFacts(c *Call, req any, k *keys.Key) {
	r := req.(interface {
		GetSigningAlgorithm() string
		GetMessageType() string
	})
	c.Algorithm, c.MessageType = r.GetSigningAlgorithm(), messageType(r.GetMessageType())
	if algs := k.Spec.SigningAlgorithms(); c.Algorithm == "" && len(algs) > 0 {
		c.Algorithm = string(algs[0])
	}
}

func encryptFacts(c *Call, req any, k *keys.Key) {
	r := req.(*pb.EncryptRequest)
	c.Algorithm, c.EncContext = r.EncryptionAlgorithm, r.EncryptionContext
	if algs := k.Spec.EncryptionAlgorithms(); c.Algorithm == "" && len(algs) > 0 {
		c.Algorithm = string(algs[0])
	}
}

func decryptFacts(c *Call, req any, _ *keys.Key) {
	r := req.(*pb.DecryptRequest)
	c.EncContext = r.EncryptionContext
	if ct, err := keys.ParseCiphertext(r.CiphertextBlob); err == nil {
		c.Algorithm = string(ct.Algorithm)
	}
}

func dataKeyFacts(c *Call, req any, _ *keys.Key) {
	c.Algorithm, c.EncContext = string(keys.SymmetricDefaultAlg), req.(*pb.GenerateDataKeyRequest).EncryptionContext
}

func macFacts(c *Call, req any, k *keys.Key) {
	c.Algorithm = req.(interface{ GetMacAlgorithm() string }).GetMacAlgorithm()
	if c.Algorithm == "" {
		c.Algorithm = string(k.Spec.MacAlgorithm())
	}
}

func ecdhFacts(c *Call, _ any, _ *keys.Key) { c.Algorithm = string(keys.ECDH) }

// acsFacts: ACS signed content is ES256 on a P-256 key, PS256 on RSA; the
// session call signs a digest.
func acsFacts(c *Call, _ any, k *keys.Key) {
	switch {
	case k.Spec == keys.ECCNISTP256:
		c.Algorithm = string(keys.ECDSASHA256)
	case k.Spec.IsRSA():
		c.Algorithm = string(keys.RSASSAPSSSHA256)
	}
	c.MessageType = string(keys.Digest)
}

// adoptAction: CreateKey with a backend_key_id takes over a key that
// already exists in the backend, which needs keygate:AdoptKey.
func adoptAction(req any) string {
	if req.(*pb.CreateKeyRequest).BackendKeyId != "" {
		return "keygate:AdoptKey"
	}
	return ""
}

func alsoSign(*keys.Key) string { return "kms:Sign" }

// sdkEncData is RSA-OAEP-256 under an ENCRYPT_DECRYPT key, or ECDH-ES
// under a KEY_AGREEMENT key.
func sdkEncFacts(c *Call, _ any, k *keys.Key) {
	switch k.Usage {
	case keys.EncryptDecrypt:
		c.Algorithm = string(keys.RSAESOAEPSHA256)
	case keys.KeyAgreement:
		c.Algorithm = string(keys.ECDH)
	}
}

func alsoSdkEnc(k *keys.Key) string {
	switch k.Usage {
	case keys.EncryptDecrypt:
		return "kms:Decrypt"
	case keys.KeyAgreement:
		return "kms:DeriveSharedSecret"
	}
	return ""
}

func messageType(t string) string {
	if t == "" {
		return string(keys.Raw)
	}
	return t
}
