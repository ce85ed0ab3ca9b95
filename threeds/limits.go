package threeds

import (
	"encoding/base64"

	"github.com/keygate/keygate/internal/kgerr"
)

// Message bounds, from EMV 3DS 2.3.1's data dictionary (Core Specification,
// Annex A): each message's largest members plus the JWE around it. The
// figures are the spec's; the sums are ours.
const (
	// MaxACSHTML is acsHTML's maximum: 300,000 characters in 2.3.1
	// (100,000 in 2.2.0).
	MaxACSHTML = 300_000
	// MaxMessageExtension is messageExtension's maximum, all extensions
	// together: 81,920 bytes (2.2.0 and 2.3.1). CReq and CRes may carry one.
	MaxMessageExtension = 81_920
	// otherMembers bounds every other member of a CReq or CRes together:
	// the largest are the image objects (issuerImage, psImage: three URLs
	// of at most 2,048 characters each), the info texts (350 and 256
	// characters) and challengeSelectInfo; 16 KiB covers them all twice.
	otherMembers = 16 << 10

	// MaxCReq bounds a CReq's JSON: messageExtension plus the rest
	// (challengeHTMLDataEntry 256, challengeDataEntry 45, ...).
	MaxCReq = MaxMessageExtension + otherMembers
	// MaxCRes bounds a CRes's JSON: acsHTML, messageExtension and the rest.
	MaxCRes = MaxACSHTML + MaxMessageExtension + otherMembers

	// MaxSdkEncData is sdkEncData's maximum: 64,000 characters (the whole
	// JWE, 2.2.0 and 2.3.1).
	MaxSdkEncData = 64_000
	// MaxACSSignedContent is acsSignedContent's maximum: 16,000
	// characters. A long RSA chain in x5c can pass it.
	MaxACSSignedContent = 16_000

	// maxJWEHeader bounds a compact JWE's protected header (base64url):
	// a dir header is under 100 characters, one with an epk under 300.
	maxJWEHeader = 1024
)

// MaxCReqJWE and MaxCResJWE bound the JWEs that carry a CReq and a CRes:
// the JSON padded to the next AES block (CBC's worst case; GCM adds none),
// base64url, with the header, IV, tag and dots.
var (
	MaxCReqJWE = jweSize(MaxCReq)
	MaxCResJWE = jweSize(MaxCRes)
)

func jweSize(plaintext int) int {
	b64 := base64.RawURLEncoding.EncodedLen
	return maxJWEHeader + b64(plaintext+16) + 2*b64(16) + 4
}

// checkCResSize refuses a CRes above MaxCRes before anything else.
func checkCResSize(cres []byte) error {
	if len(cres) > MaxCRes {
		return kgerr.Errorf(kgerr.InvalidArgument, "CRes is %d bytes; EMV 3DS 2.3.1 allows at most %d (acsHTML 300,000, messageExtension 81,920, the rest 16 KiB)", len(cres), MaxCRes)
	}
	return nil
}
