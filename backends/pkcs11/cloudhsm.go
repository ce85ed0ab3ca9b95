//go:build cgo

package pkcs11

import (
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// The CloudHSM profile: AWS CloudHSM's PKCS#11 library (Client SDK 5)
// documents rules that SoftHSM2 does not enforce. With vendor: cloudhsm
// (or a token that names itself CloudHSM) the backend follows them:
//
//   - AES-GCM: the HSM takes no IV from the application; it wants a zeroed
//     pIv buffer and writes the 12-byte IV it generated into it
//     (https://docs.aws.amazon.com/cloudhsm/latest/userguide/pkcs11-mechanisms.html,
//     "Mechanism annotations" [1]). See Key.Encrypt.
//   - CKA_PRIVATE "is partially supported by the firmware and must be
//     explicitly set only to the default value" (True), so public-key
//     templates leave it out
//     (https://docs.aws.amazon.com/cloudhsm/latest/userguide/pkcs11-attributes.html,
//     attribute annotation [1]).
//   - "Client SDK 5 does not support Sign Recover and Verify Recover
//     functions" (pkcs11-mechanisms.html, "Sign recover and verify recover
//     functions"), so templates carry no CKA_SIGN_RECOVER or
//     CKA_VERIFY_RECOVER.
//   - CKM_ECDH1_DERIVE "supports ECDH key derivation with the following
//     vendor-defined KDF types": CKD_CLOUDHSM_X963_SHA{1,224,256,384,512}_KDF
//     only, the X9.63 KDF of RFC 8418 section 2.1 (pkcs11-mechanisms.html,
//     "Derive key functions" and annotation [7]). There is no CKD_NULL, so
//     the shared secret Z never leaves the HSM, and X9.63 computes
//     SHA-256(Z || counter || SharedInfo) where the EMV 3DS Concat KDF (NIST
//     SP 800-56A one-step) computes SHA-256(counter || Z || OtherInfo): no
//     choice of SharedInfo turns one into the other, and no other CloudHSM
//     mechanism takes Z as input. The 3DS CEK cannot be had from a CloudHSM
//     EC key, so EC KEY_AGREEMENT keys are refused there.

// Vendor values of the backend config.
const (
	vendorAuto     = ""
	vendorCloudHSM = "cloudhsm"
	vendorGeneric  = "generic"
)

// isCloudHSM decides the profile: the config's vendor, or, when it is not
// set, the token's own description of itself.
func isCloudHSM(vendor string, info p11.TokenInfo) bool {
	switch vendor {
	case vendorCloudHSM:
		return true
	case vendorGeneric:
		return false
	}
	// The manufacturer and model, not the label: an operator names a token
	// anything.
	for _, s := range []string{info.ManufacturerID, info.Model} {
		if strings.Contains(strings.ToLower(s), "cloudhsm") {
			return true
		}
	}
	return false
}

// errCloudHSMECDH explains why an EC KEY_AGREEMENT key cannot live on
// CloudHSM and what to use instead.
func (b *Backend) errCloudHSMECDH(spec keys.Spec) error {
	return kgerr.Errorf(kgerr.FailedPrecondition,
		"backend %s is CloudHSM, which lacks CKD_NULL for CKM_ECDH1_DERIVE: it derives only with the X9.63 KDF "+
			"(SHA-256(Z || counter || SharedInfo)) and never returns the shared secret, so the EMV 3DS Concat KDF "+
			"(SHA-256(counter || Z || OtherInfo)) cannot be computed from a %s KEY_AGREEMENT key there; "+
			"use an RSA DS key (RSA_2048 ENCRYPT_DECRYPT, sdkEncData under RSA-OAEP-256) or create the EC key on the KMS backend",
		b.name, spec)
}

// cloudHSMNoECDH is the capability summary's note for the same refusal.
const cloudHSMNoECDH = "CKD_NULL for CKM_ECDH1_DERIVE (CloudHSM derives only with X9.63 KDFs; the 3DS Concat KDF needs the raw secret)"

// profileTemplate drops from a key template the attributes the CloudHSM
// profile must not send: CKA_PRIVATE=false on public keys, and the
// *_RECOVER capabilities. Other tokens get the template unchanged.
func (b *Backend) profileTemplate(t []*p11.Attribute) []*p11.Attribute {
	if !b.cloudHSM {
		return t
	}
	out := t[:0:0]
	for _, a := range t {
		switch {
		case a.Type == p11.CKA_SIGN_RECOVER, a.Type == p11.CKA_VERIFY_RECOVER:
		case a.Type == p11.CKA_PRIVATE && (len(a.Value) == 0 || a.Value[0] == 0):
		default:
			out = append(out, a)
		}
	}
	return out
}

// missing is what the backend lacks for kind k: the token's mechanisms,
// and on CloudHSM the raw ECDH secret.
func (b *Backend) missing(k backends.KeyKind) string {
	if b.cloudHSM && k.Usage == keys.KeyAgreement {
		return cloudHSMNoECDH
	}
	return b.caps.missing(k)
}
