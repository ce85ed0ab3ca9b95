package policy

import (
	"net/netip"
	"time"

	"github.com/keygate/keygate/keys"
)

// Request is what the server knows about one call, in typed fields so that
// a decision needs no per-call map. Empty fields are absent condition keys
// (IAM semantics: a condition on an absent key is false, or true for a
// negated operator), so leave a field empty when the operation does not
// carry it, e.g. SigningAlgorithm on Decrypt.
type Request struct {
	Principal string // the caller's principal ARN (aws:PrincipalArn)
	Action    string // e.g. "kms:Sign"; case-insensitive as in IAM
	Resource  string // the key's ARN, arn:aws:kms:REGION:ACCOUNT:key/NAME

	SigningAlgorithm      keys.SigningAlgorithm      // kms:SigningAlgorithm
	MessageType           keys.MessageType           // kms:MessageType
	EncryptionAlgorithm   keys.EncryptionAlgorithm   // kms:EncryptionAlgorithm
	MacAlgorithm          keys.MacAlgorithm          // kms:MacAlgorithm
	KeyAgreementAlgorithm keys.KeyAgreementAlgorithm // kms:KeyAgreementAlgorithm
	KeySpec               keys.Spec                  // kms:KeySpec
	KeyUsage              keys.Usage                 // kms:KeyUsage
	KeyOrigin             string                     // kms:KeyOrigin: AWS_KMS, EXTERNAL, AWS_CLOUDHSM...
	RequestAlias          string                     // kms:RequestAlias, e.g. "alias/acs-signing"

	// EncryptionContext gives kms:EncryptionContext:<name> (name matched
	// case-insensitively, value case-sensitively) and kms:EncryptionContextKeys.
	EncryptionContext map[string]string

	SourceIP    netip.Addr // aws:SourceIp, the peer address; invalid = absent
	CurrentTime time.Time  // aws:CurrentTime and aws:EpochTime; zero = absent
}

// callerAccount is kms:CallerAccount and aws:PrincipalAccount: the account
// field of the principal ARN.
func (r *Request) callerAccount() string { return arnAccount(r.Principal) }
