package threeds

import (
	"crypto/x509"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
)

// MaxSdkServerSignedContent bounds sdkServerSignedContent. The 2.3.1
// data dictionary's figure for it was not at hand; this is acsSignedContent's
// 16,000 characters, which has the same shape.
const MaxSdkServerSignedContent = MaxACSSignedContent

// SdkSignatureTimestampLayout is sdkSignatureTimestamp's format,
// YYYYMMDDHHMMSS in UTC.
const SdkSignatureTimestampLayout = "20060102150405"

// SdkServerTrust is what a DS trusts for Split-SDK servers' signed content.
type SdkServerTrust struct {
	Roots   *x509.CertPool // the DS CAs
	MaxSkew time.Duration  // how far sdkSignatureTimestamp may be from now
}

// SdkServerContent is a verified sdkServerSignedContent's payload.
type SdkServerContent struct {
	SDKReferenceNumber    string
	SDKSignatureTimestamp time.Time
	SDKTransID            string
	SplitSDKServerID      string
	Leaf                  *x509.Certificate
}

// VerifySdkServerSignedContent is the DS's check of a Split-SDK server's
// sdkServerSignedContent (EMV 3DS 2.3.1): a JWS (PS256 or ES256, x5c to a
// DS CA) over {sdkReferenceNumber, sdkSignatureTimestamp, sdkTransID,
// splitSdkServerID}. VerifyX5CJWS checks the form, leaf validity, key usage,
// chain and signature; then the members are read and the timestamp must be
// within trust.MaxSkew of now. Every refusal is InvalidArgument naming the
// check.
func VerifySdkServerSignedContent(jws string, trust SdkServerTrust, now time.Time) (*SdkServerContent, error) {
	const field = "sdkServerSignedContent"
	if trust.Roots == nil {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "no DS CA is configured for sdkServerSignedContent")
	}
	payload, leaf, err := VerifyX5CJWS(jws, field, MaxSdkServerSignedContent, trust.Roots, now)
	if err != nil {
		return nil, err
	}
	m, err := objectMembers(payload, field+" payload")
	if err != nil {
		return nil, err
	}
	out := &SdkServerContent{Leaf: leaf}
	for name, dst := range map[string]*string{"sdkReferenceNumber": &out.SDKReferenceNumber, "sdkTransID": &out.SDKTransID,
		"splitSdkServerID": &out.SplitSDKServerID} {
		if *dst, err = requiredString(m, name, field+" payload"); err != nil {
			return nil, err
		}
		if err := checkID(*dst, field+" payload."+name); err != nil {
			return nil, err
		}
	}
	ts, err := requiredString(m, "sdkSignatureTimestamp", field+" payload")
	if err != nil {
		return nil, err
	}
	t, err := time.Parse(SdkSignatureTimestampLayout, ts)
	if err != nil {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s payload.sdkSignatureTimestamp must be YYYYMMDDHHMMSS (UTC)", field)
	}
	if d := now.Sub(t); d > trust.MaxSkew || -d > trust.MaxSkew {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s payload.sdkSignatureTimestamp %s is outside the allowed skew of %s", field, ts, trust.MaxSkew)
	}
	out.SDKSignatureTimestamp = t
	return out, nil
}
