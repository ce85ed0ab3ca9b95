package policy

import (
	"slices"
	"strings"
)

// kmsActionList holds AWS KMS's action names, spelled as in KMS's authorization
// reference. keygate enforces the ones its API has; the rest are accepted
// in documents so that a KMS key's own policy parses and diffs cleanly.
var kmsActionList = []string{
	"kms:CancelKeyDeletion", "kms:ConnectCustomKeyStore", "kms:CreateAlias",
	"kms:CreateCustomKeyStore", "kms:CreateGrant", "kms:CreateKey", "kms:Decrypt",
	"kms:DeleteAlias", "kms:DeleteCustomKeyStore", "kms:DeleteImportedKeyMaterial",
	"kms:DeriveSharedSecret", "kms:DescribeCustomKeyStores", "kms:DescribeKey",
	"kms:DisableKey", "kms:DisableKeyRotation", "kms:DisconnectCustomKeyStore",
	"kms:EnableKey", "kms:EnableKeyRotation", "kms:Encrypt", "kms:GenerateDataKey",
	"kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext",
	"kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateMac", "kms:GenerateRandom",
	"kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:GetParametersForImport",
	"kms:GetPublicKey", "kms:ImportKeyMaterial", "kms:ListAliases", "kms:ListGrants",
	"kms:ListKeyPolicies", "kms:ListKeyRotations", "kms:ListKeys", "kms:ListResourceTags",
	"kms:ListRetirableGrants", "kms:PutKeyPolicy", "kms:ReEncryptFrom", "kms:ReEncryptTo",
	"kms:ReplicateKey", "kms:RetireGrant", "kms:RevokeGrant", "kms:RotateKeyOnDemand",
	"kms:ScheduleKeyDeletion", "kms:Sign", "kms:SynchronizeMultiRegionKey",
	"kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateCustomKeyStore",
	"kms:UpdateKeyDescription", "kms:UpdatePrimaryRegion", "kms:Verify", "kms:VerifyMac",
}

// keygateActionList names what keygate does that KMS has no operation for. They
// live in their own "keygate:" namespace so that "kms:*" never grants them
// and a document pushed to KMS with them is still valid IAM syntax (KMS
// ignores actions of other services in a key policy).
var keygateActionList = []string{
	"keygate:CreateAcsSession",         // ECDH + 3DS Concat KDF for a CReq/CRes session key
	"keygate:DecryptChallengeRequest",  // CReq JWE under a session key
	"keygate:EncryptChallengeResponse", // CRes JWE under a session key
	"keygate:DecryptSdkEncData",        // DS: sdkEncData JWE (RSA-OAEP-256 or ECDH-ES)
	"keygate:SignAcsContent",           // ACS signed content as a whole JWS
	"keygate:ImportCertificate",        // attach the DS CA's chain to a key version
	"keygate:GetCertificate",           // read a key version's certificate chain (also granted by kms:DescribeKey)
	"keygate:CreateCertificateRequest", // CSR signed by a key version
	"keygate:CreateKeyVersion",         // rotation: a new backend key as a new version
	"keygate:ActivateKeyVersion",       // make a version primary (dual control)
	"keygate:RetireKeyVersion",         // verify/decrypt only
	"keygate:DestroyKeyVersion",        // dual control
	"keygate:ApproveOperation",         // the second custodian's approval
	"keygate:ReadAuditLog",             // audit export, verify, reports
	"keygate:AdoptKey",                 // CreateKey over an existing backend key (config adopters only)

	"keygate:VerifySdkServerSignedContent", // DS: a Split-SDK server's signed content (granted by the config)
	"keygate:GenerateOtp",                  // ACS: an HOTP/TOTP code under a GENERATE_VERIFY_MAC key
	"keygate:VerifyOtp",                    // ACS: check a code, refusing reuse
	"keygate:SetDsKeyIds",                  // DS: the kids of an encryption key version
}

// adminActionList is what a key administrator gets in Default: managing the
// key and its policy, never using it. They mirror the "key administrators"
// statement of KMS's default console policy, without wildcards so that a
// reviewer sees every right granted.
var adminActionList = []string{
	"kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias", "kms:DescribeKey",
	"kms:EnableKey", "kms:DisableKey", "kms:EnableKeyRotation", "kms:DisableKeyRotation",
	"kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListKeyPolicies",
	"kms:ListResourceTags", "kms:ListGrants", "kms:RevokeGrant", "kms:TagResource",
	"kms:UntagResource", "kms:UpdateKeyDescription", "kms:ScheduleKeyDeletion",
	"kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
	"keygate:ImportCertificate", "keygate:GetCertificate", "keygate:CreateCertificateRequest",
	"keygate:CreateKeyVersion", "keygate:ActivateKeyVersion", "keygate:RetireKeyVersion",
	"keygate:DestroyKeyVersion", "keygate:ApproveOperation",
	"keygate:SetDsKeyIds",
}

// KMSActions returns KMS's action names. Like the other lists it is a
// copy: the package's own tables cannot be changed by a caller.
func KMSActions() []string { return slices.Clone(kmsActionList) }

// KeygateActions returns keygate's own actions ("keygate:...").
func KeygateActions() []string { return slices.Clone(keygateActionList) }

// AdminActions returns the actions Default gives key administrators.
func AdminActions() []string { return slices.Clone(adminActionList) }

// knownAction reports whether name is one of the exported actions, ignoring
// case as IAM does, and returns its canonical spelling.
func knownAction(name string) (string, bool) {
	for _, list := range [][]string{kmsActionList, keygateActionList} {
		for _, a := range list {
			if strings.EqualFold(a, name) {
				return a, true
			}
		}
	}
	return "", false
}

// anyActionMatches reports whether pattern (with * and ?) names at least
// one known action, so that "kms:Sgin*" is caught at validation time.
func anyActionMatches(pattern string) bool {
	for _, list := range [][]string{kmsActionList, keygateActionList} {
		for _, a := range list {
			if wildMatch(pattern, a, true) {
				return true
			}
		}
	}
	return false
}

// OwnKeyReads are what a principal may still do, when its policy allows,
// with one of keygated's own keys (the audit checkpoint key, the config's
// own_keys): look at it, never use or change it. Enforcement and the
// evidence pack's access matrix read the same list.
var OwnKeyReads = map[string]bool{"kms:DescribeKey": true, "kms:GetKeyPolicy": true,
	"kms:GetPublicKey": true, "kms:Verify": true, "keygate:GetCertificate": true}

// grantedAlsoBy maps a keygate action split off an older one to it: a
// statement naming the older action (Action or NotAction, Allow or Deny)
// also names the new one, so documents written before the split keep
// their meaning. GetCertificate was authorized as kms:DescribeKey until
// 2026-11; it is audited as its own action since.
var grantedAlsoBy = map[string]string{"keygate:GetCertificate": "kms:DescribeKey"}
