package policy

import (
	"slices"
	"strings"
)

// keyID identifies a condition key keygate can resolve from a Request.
type keyID int

const (
	keyAbsent keyID = iota // a key KMS knows that keygate never sets
	keySigningAlgorithm
	keyMessageType
	keyEncryptionAlgorithm
	keyMacAlgorithm
	keyKeyAgreementAlgorithm
	keyKeySpec
	keyKeyUsage
	keyKeyOrigin
	keyRequestAlias
	keyCallerAccount
	keyPrincipalArn
	keyPrincipalAccount
	keySourceIP
	keyCurrentTime
	keyEpochTime
	keySecureTransport
	keyEncryptionContext // kms:EncryptionContext:<name>
	keyEncryptionContextKeys
)

// ConditionKeys returns the condition keys keygate sets from a Request
// ("kms:EncryptionContext:" stands for every kms:EncryptionContext:<name>).
func ConditionKeys() []string { return slices.Clone(conditionKeyList) }

// AbsentConditionKeys returns the keys AWS defines that keygate accepts in
// documents but never sets, besides the aws:PrincipalTag/, aws:ResourceTag/
// and aws:RequestTag/ families.
func AbsentConditionKeys() []string { return slices.Clone(absentKeyList) }

// conditionKeyList lists the condition keys keygate sets from a Request.
var conditionKeyList = []string{
	"kms:SigningAlgorithm", "kms:MessageType", "kms:EncryptionAlgorithm", "kms:MacAlgorithm",
	"kms:KeyAgreementAlgorithm", "kms:KeySpec", "kms:KeyUsage", "kms:KeyOrigin",
	"kms:RequestAlias", "kms:CallerAccount", "aws:PrincipalArn", "aws:PrincipalAccount",
	"aws:SourceIp", "aws:CurrentTime", "aws:EpochTime", "aws:SecureTransport",
	"kms:EncryptionContext:", "kms:EncryptionContextKeys",
}

var keyIDs = map[string]keyID{
	"kms:signingalgorithm":      keySigningAlgorithm,
	"kms:messagetype":           keyMessageType,
	"kms:encryptionalgorithm":   keyEncryptionAlgorithm,
	"kms:macalgorithm":          keyMacAlgorithm,
	"kms:keyagreementalgorithm": keyKeyAgreementAlgorithm,
	"kms:keyspec":               keyKeySpec,
	"kms:keyusage":              keyKeyUsage,
	// Deprecated names KMS still honours for the same values.
	"kms:customermasterkeyspec":  keyKeySpec,
	"kms:customermasterkeyusage": keyKeyUsage,
	"kms:keyorigin":              keyKeyOrigin,
	"kms:requestalias":           keyRequestAlias,
	"kms:calleraccount":          keyCallerAccount,
	"aws:principalarn":           keyPrincipalArn,
	"aws:principalaccount":       keyPrincipalAccount,
	"aws:sourceip":               keySourceIP,
	"aws:currenttime":            keyCurrentTime,
	"aws:epochtime":              keyEpochTime,
	"aws:securetransport":        keySecureTransport,
	"kms:encryptioncontextkeys":  keyEncryptionContextKeys,
}

// absentKeyList holds keys AWS defines that never have a value in
// keygate (there are no grants, VPC endpoints, tags or AWS services calling
// on a user's behalf). They are accepted so that KMS's own policies parse;
// a condition on one behaves as on any absent key.
var absentKeyList = []string{
	"kms:ViaService", "kms:GrantIsForAWSResource", "kms:GrantOperations",
	"kms:GrantConstraintType", "kms:GranteePrincipal", "kms:RetiringPrincipal",
	"kms:BypassPolicyLockoutSafetyCheck", "kms:ReEncryptOnSameKey", "kms:WrappingAlgorithm",
	"kms:WrappingKeySpec", "kms:ExpirationModel", "kms:ValidTo", "kms:DataKeyPairSpec",
	"kms:MultiRegion", "kms:MultiRegionKeyType", "kms:PrimaryRegion", "kms:ReplicaRegion",
	"kms:RotationPeriodInDays", "kms:ScheduleKeyDeletionPendingWindowInDays",
	"kms:ResourceAliases", "kms:KeyMaterialOrigin",
	"aws:SourceVpc", "aws:SourceVpce", "aws:VpcSourceIp", "aws:PrincipalOrgID",
	"aws:PrincipalOrgPaths", "aws:PrincipalType", "aws:PrincipalIsAWSService",
	"aws:PrincipalServiceName", "aws:CalledVia", "aws:CalledViaFirst", "aws:CalledViaLast",
	"aws:ViaAWSService", "aws:MultiFactorAuthPresent", "aws:MultiFactorAuthAge",
	"aws:RequestedRegion", "aws:SourceArn", "aws:SourceAccount", "aws:SourceOrgID",
	"aws:userid", "aws:username", "aws:TagKeys", "aws:UserAgent", "aws:Referer",
	"aws:TokenIssueTime", "aws:FederatedProvider",
}

// absentPrefixes are families of absent keys with a name after a slash.
var absentPrefixes = []string{"aws:principaltag/", "aws:resourcetag/", "aws:requesttag/"}

// condKey is a resolved condition key.
type condKey struct {
	id     keyID
	ecName string // for kms:EncryptionContext:<name>, the name as written
	multi  bool   // multi-valued (kms:EncryptionContextKeys)
}

const ecPrefix = "kms:encryptioncontext:"

// lookupKey resolves a condition key name, case-insensitively as IAM does.
func lookupKey(name string) (condKey, bool) {
	l := strings.ToLower(name)
	if id, ok := keyIDs[l]; ok {
		return condKey{id: id, multi: id == keyEncryptionContextKeys}, true
	}
	if strings.HasPrefix(l, ecPrefix) && len(l) > len(ecPrefix) {
		return condKey{id: keyEncryptionContext, ecName: name[len(ecPrefix):]}, true
	}
	for _, k := range absentKeyList {
		if strings.EqualFold(k, name) {
			return condKey{id: keyAbsent}, true
		}
	}
	for _, p := range absentPrefixes {
		if strings.HasPrefix(l, p) && len(l) > len(p) {
			return condKey{id: keyAbsent}, true
		}
	}
	return condKey{}, false
}

// str returns the value of a single-valued string key, and whether the key
// is present. Time, IP and multi-valued keys are resolved by their
// operators directly; here they only report presence.
func (k *condKey) str(r *Request) (string, bool) {
	var v string
	switch k.id {
	case keySigningAlgorithm:
		v = string(r.SigningAlgorithm)
	case keyMessageType:
		v = string(r.MessageType)
	case keyEncryptionAlgorithm:
		v = string(r.EncryptionAlgorithm)
	case keyMacAlgorithm:
		v = string(r.MacAlgorithm)
	case keyKeyAgreementAlgorithm:
		v = string(r.KeyAgreementAlgorithm)
	case keyKeySpec:
		v = string(r.KeySpec)
	case keyKeyUsage:
		v = string(r.KeyUsage)
	case keyKeyOrigin:
		v = r.KeyOrigin
	case keyRequestAlias:
		v = r.RequestAlias
	case keyCallerAccount, keyPrincipalAccount:
		v = r.callerAccount()
	case keyPrincipalArn:
		v = r.Principal
	case keySecureTransport:
		// Every keygate call arrives over mutual TLS.
		return "true", true
	case keyEncryptionContext:
		// <name> matches case-insensitively, as in KMS. Evaluate has denied
		// contexts with two keys equal under folding, so at most one
		// matches and map order cannot change the answer.
		if v, ok := r.EncryptionContext[k.ecName]; ok {
			return v, true
		}
		for name, val := range r.EncryptionContext {
			if strings.EqualFold(name, k.ecName) {
				return val, true
			}
		}
		return "", false
	case keySourceIP:
		return "", r.SourceIP.IsValid()
	case keyCurrentTime, keyEpochTime:
		return "", !r.CurrentTime.IsZero()
	case keyEncryptionContextKeys:
		return "", len(r.EncryptionContext) > 0
	}
	return v, v != ""
}
