package server

import (
	"context"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/threeds"
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

	// ReEncrypt is kms:ReEncryptFrom on the ciphertext's key; the handler
	// authorizes kms:ReEncryptTo on the destination (secondKey).
	"/keygate.v1.CryptoService/ReEncrypt": {action: "kms:ReEncryptFrom", key: byCiphertext, usage: keys.EncryptDecrypt, crypto: true, facts: reEncryptFacts},

	"/keygate.v1.KeyAdminService/CreateKey":         {action: "kms:CreateKey", actionOf: adoptAction, key: byKeyID, creates: true},
	"/keygate.v1.KeyAdminService/DescribeKey":       {action: "kms:DescribeKey", key: byKeyID},
	"/keygate.v1.KeyAdminService/ListKeys":          {action: "kms:ListKeys"},
	"/keygate.v1.KeyAdminService/EnableKey":         {action: "kms:EnableKey", key: byKeyID},
	"/keygate.v1.KeyAdminService/DisableKey":        {action: "kms:DisableKey", key: byKeyID},
	"/keygate.v1.KeyAdminService/GetKeyPolicy":      {action: "kms:GetKeyPolicy", key: byKeyID},
	"/keygate.v1.KeyAdminService/PutKeyPolicy":      {action: "kms:PutKeyPolicy", key: byKeyID},
	"/keygate.v1.KeyAdminService/ImportCertificate": {action: "keygate:ImportCertificate", key: byKeyID},
	"/keygate.v1.KeyAdminService/GetCertificate":    {action: "keygate:GetCertificate", key: byKeyID},

	// The version lifecycle (lifecycle.go, certs.go, periods.go).
	"/keygate.v1.KeyAdminService/CreateKeyVersion":           {action: "keygate:CreateKeyVersion", key: byKeyID},
	"/keygate.v1.KeyAdminService/ActivateKeyVersion":         {action: "keygate:ActivateKeyVersion", key: byKeyID},
	"/keygate.v1.KeyAdminService/RetireKeyVersion":           {action: "keygate:RetireKeyVersion", key: byKeyID},
	"/keygate.v1.KeyAdminService/ScheduleKeyVersionDeletion": {action: "kms:ScheduleKeyDeletion", key: byKeyID},
	"/keygate.v1.KeyAdminService/CancelKeyVersionDeletion":   {action: "kms:CancelKeyDeletion", key: byKeyID},
	"/keygate.v1.KeyAdminService/DestroyKeyVersion":          {action: "keygate:DestroyKeyVersion", key: byKeyID},
	"/keygate.v1.KeyAdminService/UpdateKeyRotation":          {action: "kms:EnableKeyRotation", key: byKeyID},
	"/keygate.v1.KeyAdminService/CreateCertificateRequest":   {action: "keygate:CreateCertificateRequest", key: byKeyID},
	// Dual control (approvals.go): an approval is about one key.
	"/keygate.v1.KeyAdminService/ListApprovals":    {action: "keygate:ApproveOperation", key: byOptionalKeyID},
	"/keygate.v1.KeyAdminService/ApproveOperation": {action: "keygate:ApproveOperation", key: byApproval},
	"/keygate.v1.KeyAdminService/DenyOperation":    {action: "keygate:ApproveOperation", key: byApproval},
	// Policy history (policyhistory.go): a read of the key's policies.
	"/keygate.v1.KeyAdminService/GetKeyPolicyHistory": {action: "kms:GetKeyPolicy", key: byKeyID},
	// Bring your own key (import.go).
	"/keygate.v1.KeyAdminService/GetParametersForImport": {action: "kms:GetParametersForImport", key: byKeyID},
	"/keygate.v1.KeyAdminService/ImportKeyMaterial":      {action: "kms:ImportKeyMaterial", key: byKeyID},

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
	// The HMAC the log keeps of a context value: a read of the log's view.
	"/keygate.v1.AuditService/HashContext": {action: "keygate:ReadAuditLog"},

	"/keygate.v1.ThreeDSService/CreateAcsSession":         {action: "keygate:CreateAcsSession", key: byKeyID, usage: keys.SignVerify, crypto: true, newOutput: true, facts: acsFacts, also: alsoSign},
	"/keygate.v1.ThreeDSService/DecryptChallengeRequest":  {action: "keygate:DecryptChallengeRequest", key: bySessionKey, usage: keys.EncryptDecrypt, crypto: true},
	"/keygate.v1.ThreeDSService/EncryptChallengeResponse": {action: "keygate:EncryptChallengeResponse", key: bySessionKey, usage: keys.EncryptDecrypt, crypto: true},
	"/keygate.v1.ThreeDSService/DecryptSdkEncData":        {action: "keygate:DecryptSdkEncData", key: bySdkEncKey, crypto: true, facts: sdkEncFacts, also: alsoSdkEnc},

	// 2.3.1: the DS's check of a Split-SDK server, granted by the config
	// (threeds.sdk_server.principals) as it concerns no key.
	"/keygate.v1.ThreeDSService/VerifySdkServerSignedContent": {action: "keygate:VerifySdkServerSignedContent"},
	// One-time passwords: their own actions, so an OTP key's policy need
	// not grant kms:GenerateMac (which would compute every code).
	"/keygate.v1.ThreeDSService/GenerateOtp": {action: "keygate:GenerateOtp", key: byKeyID, usage: keys.GenerateVerifyMac, crypto: true, newOutput: true, facts: otpFacts},
	"/keygate.v1.ThreeDSService/VerifyOtp":   {action: "keygate:VerifyOtp", key: byKeyID, usage: keys.GenerateVerifyMac, crypto: true, facts: otpFacts},
	// DS key rotation by kid, ACS chains by DS.
	"/keygate.v1.ThreeDSService/SetDsKeyIds":    {action: "keygate:SetDsKeyIds", key: byKeyID},
	"/keygate.v1.ThreeDSService/ImportAcsChain": {action: "keygate:ImportCertificate", key: byKeyID},
}

// keyLocator finds the key a request names: its name and version (0 = the
// primary). An error is the request's fault (InvalidArgument).
type keyLocator func(ctx context.Context, s *Server, req any) (name string, version uint32, err error)

// byKeyID is the request's key_id, and key_version if it has one.
func byKeyID(_ context.Context, _ *Server, req any) (string, uint32, error) {
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

// byOptionalKeyID is key_id when the request names one; with none, the
// call is about every key and is authorized like an account action.
func byOptionalKeyID(_ context.Context, _ *Server, req any) (string, uint32, error) {
	return req.(interface{ GetKeyId() string }).GetKeyId(), 0, nil
}

// byCiphertext is the key version a keygate ciphertext names; a key_id
// given beside it must be the same key.
func byCiphertext(_ context.Context, _ *Server, req any) (string, uint32, error) {
	blob := req.(interface{ GetCiphertextBlob() []byte }).GetCiphertextBlob()
	if len(blob) == 0 || len(blob) > maxCiphertextBlob {
		return "", 0, kgerr.Errorf(kgerr.InvalidArgument, "ciphertext_blob must be 1 to %d bytes", maxCiphertextBlob)
	}
	ct, err := keys.ParseCiphertext(blob)
	if err != nil {
		return "", 0, err
	}
	if r, ok := req.(*pb.DecryptRequest); ok && r.KeyId != "" && r.KeyId != ct.Key {
		return "", 0, kgerr.Errorf(kgerr.InvalidArgument, "the ciphertext was not made by key %q", r.KeyId)
	}
	return ct.Key, ct.Version, nil
}

// bySessionKey is the configured 3DS session key: its policy says who may
// run challenges.
func bySessionKey(_ context.Context, s *Server, _ any) (string, uint32, error) {
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

func reEncryptFacts(c *Call, req any, _ *keys.Key) {
	r := req.(*pb.ReEncryptRequest)
	c.EncContext = r.SourceEncryptionContext
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

func otpFacts(c *Call, _ any, k *keys.Key) { c.Algorithm = string(k.Spec.MacAlgorithm()) }

// bySdkEncKey is the DS key an sdkEncData is for: named by key_id, or
// chosen by the kid in its header among key_ids (or all DS keys). A kid
// whose key the caller may not use is answered as a kid that names none,
// so the refusal reveals no key (threeds.NoKidError).
func bySdkEncKey(ctx context.Context, s *Server, req any) (string, uint32, error) {
	r := req.(*pb.DecryptSdkEncDataRequest)
	name, n, kid, err := s.threeds.dsKey(ctx, r)
	if err != nil || kid == "" {
		return name, n, err
	}
	c := callOf(ctx)
	e, err := s.keys.Resolve(ctx, name)
	if err != nil {
		return "", 0, threeds.NoKidError(kid)
	}
	probe := &Call{Principal: c.Principal, Peer: c.Peer, Action: c.Action, Key: e, KeyName: name}
	sdkEncFacts(probe, req, e.Key)
	if s.authz.authorize(probe) != nil {
		return "", 0, threeds.NoKidError(kid)
	}
	if a := alsoSdkEnc(e.Key); a != "" && s.authz.authorizeAlso(probe, a) != nil {
		return "", 0, threeds.NoKidError(kid)
	}
	c.kid = kid
	return name, n, nil
}

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
