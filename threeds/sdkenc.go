package threeds

import (
	"context"
	"crypto/rand"
	"encoding/json"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// maxID bounds identifiers that go into the KDF or a JWE header.
const maxID = 64

// SdkEncForm names the form in which sdkEncData arrived; the server puts
// it in the audit detail.
type SdkEncForm string

const (
	FormRSAOAEP256 SdkEncForm = "RSA-OAEP-256"
	FormECDHES     SdkEncForm = "ECDH-ES"
	// FormDirEPK is Stripe Android's EC form: {"alg":"dir","enc":…,"epk":…},
	// the same ECDH and 3DS Concat KDF (PartyVInfo = DS ID) as ECDH-ES,
	// labelled "dir". The spec and EMVCo's samples say ECDH-ES.
	FormDirEPK SdkEncForm = "dir+epk"
)

// SdkEncOptions are the DS's settings for DecryptSdkEncData.
type SdkEncOptions struct {
	// DSID is the Concat KDF's PartyVInfo for an EC DS key, e.g. A000000802.
	DSID string
	// AllowDirEPK accepts FormDirEPK, which certified SDKs send.
	AllowDirEPK bool
}

// DecryptSdkEncData decrypts the 3DS SDK's device data (sdkEncData), a JWE
// compact serialization made for the DS, and returns the plaintext JSON
// and the form it came in (also with an error, once the header named one).
//
//   - alg RSA-OAEP-256 needs an RSA ENCRYPT_DECRYPT key: the backend unwraps
//     the CEK (RSAES_OAEP_SHA_256), 32 bytes for A128CBC-HS256, 16 for A128GCM.
//   - alg ECDH-ES needs an ECC_NIST_P256 KEY_AGREEMENT key: the header's epk
//     is validated, the backend does ECDH, and CEK = KDF3DS(Z, dsID), 256 bits;
//     A128CBC-HS256 uses all of it, A128GCM its first 16 bytes (EMVCo
//     worked sample 4).
//   - alg dir with an epk (FormDirEPK) is ECDH-ES by another name, accepted
//     only with opts.AllowDirEPK.
//
// A failed RSA unwrap is not reported as such: decryption goes on with a
// random CEK and fails at the tag, so every failure is the same
// DecryptFailedMsg and there is no unwrap oracle (RFC 7516 section 11.5).
// Z and the CEK are cleared before it returns.
func DecryptSdkEncData(ctx context.Context, key backends.Key, jwe string, opts SdkEncOptions) ([]byte, SdkEncForm, error) {
	const field = "sdkEncData"
	c, err := parseCompact(jwe, field, MaxSdkEncData, "sdkEncData, 64,000 characters")
	if err != nil {
		return nil, "", err
	}
	hdr, err := objectMembers(c.header, field+" header")
	if err != nil {
		return nil, "", err
	}
	if err := refuseUnsupported(hdr, field+" header"); err != nil {
		return nil, "", err
	}
	alg, err := requiredString(hdr, "alg", field+" header")
	if err != nil {
		return nil, "", err
	}
	encName, err := requiredString(hdr, "enc", field+" header")
	if err != nil {
		return nil, "", err
	}
	enc := Enc(encName)
	if !enc.Valid() {
		return nil, "", kgerr.Errorf(kgerr.InvalidArgument, "%s header.enc must be A128CBC-HS256 or A128GCM", field)
	}
	cekLen := 32
	if enc == A128GCM {
		cekLen = 16
	}

	var form SdkEncForm
	switch _, epk := hdr["epk"]; {
	case alg == "RSA-OAEP-256":
		form = FormRSAOAEP256
	case alg == "ECDH-ES":
		form = FormECDHES
	case alg == "dir" && epk && opts.AllowDirEPK:
		form = FormDirEPK
	case alg == "dir" && epk:
		return nil, FormDirEPK, kgerr.Errorf(kgerr.InvalidArgument, "%s header.alg is \"dir\" with an epk (Stripe Android's EC form), which this server does not accept (threeds.accept_dir_epk is off)", field)
	default:
		return nil, "", kgerr.Errorf(kgerr.InvalidArgument, "%s header.alg must be RSA-OAEP-256 or ECDH-ES", field)
	}
	var cek []byte
	if form == FormRSAOAEP256 {
		if cek, err = unwrapCEK(ctx, key, c, cekLen); err != nil {
			return nil, form, err
		}
	} else {
		full, err := agreeCEK(ctx, key, c, hdr, opts.DSID, string(form))
		if err != nil {
			return nil, form, err
		}
		defer clear(full) // A128GCM uses only the first half; clear all of it
		cek = full[:cekLen]
	}
	defer clear(cek)
	pt, err := openContent(enc, cek, c.iv, c.ciphertext, c.tag, []byte(c.rawHeader))
	return pt, form, err
}

// SdkEncKid returns the kid of an sdkEncData's header ("" if it has none),
// checking only the JWE's form: the DS picks its key version by it.
func SdkEncKid(jwe string) (string, error) {
	c, err := parseCompact(jwe, "sdkEncData", MaxSdkEncData, "sdkEncData, 64,000 characters")
	if err != nil {
		return "", err
	}
	hdr, err := objectMembers(c.header, "sdkEncData header")
	if err != nil {
		return "", err
	}
	kid, ok, err := stringMember(hdr, "kid", "sdkEncData header")
	if err != nil || !ok {
		return "", err
	}
	return kid, CheckKid(kid)
}

// unwrapCEK has the backend unwrap an RSA-OAEP-256 CEK; a failed unwrap
// becomes a random CEK (no unwrap oracle).
func unwrapCEK(ctx context.Context, key backends.Key, c *compactJWE, cekLen int) ([]byte, error) {
	if !key.Spec().IsRSA() || key.Usage() != keys.EncryptDecrypt {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "alg RSA-OAEP-256 needs an RSA ENCRYPT_DECRYPT key, this key is %s %s", key.Spec(), key.Usage())
	}
	if len(c.encKey) == 0 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "sdkEncData: the encrypted key is empty")
	}
	cek, err := key.Decrypt(ctx, keys.RSAESOAEPSHA256, c.encKey, nil)
	if err != nil && kgerr.KindOf(err) != kgerr.InvalidArgument {
		return nil, err // backend down, deadline, denied: not the sender's fault
	}
	if err != nil || len(cek) != cekLen {
		clear(cek)
		cek = make([]byte, cekLen)
		rand.Read(cek)
	}
	return cek, nil
}

// agreeCEK validates the header's epk, has the backend do ECDH and returns
// KDF3DS(Z, dsID), all 32 bytes; Z is cleared.
func agreeCEK(ctx context.Context, key backends.Key, c *compactJWE, hdr map[string]json.RawMessage, dsID, alg string) ([]byte, error) {
	const field = "sdkEncData"
	if key.Spec() != keys.ECCNISTP256 || key.Usage() != keys.KeyAgreement {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "alg %s needs an ECC_NIST_P256 KEY_AGREEMENT key, this key is %s %s", alg, key.Spec(), key.Usage())
	}
	if err := checkID(dsID, "dsID"); err != nil {
		return nil, err
	}
	if len(c.encKey) != 0 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s: the encrypted key must be empty with %s", field, alg)
	}
	epkRaw, ok := hdr["epk"]
	if !ok {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "%s header.epk is missing", field)
	}
	epk, err := ParsePeerKey(epkRaw, field+" header.epk")
	if err != nil {
		return nil, err
	}
	z, err := key.DeriveSharedSecret(ctx, epk)
	if err != nil {
		return nil, err
	}
	defer clear(z)
	return KDF3DS(z, dsID), nil
}

// refuseUnsupported refuses header members that would change how the JWE
// must be processed and that 3DS never uses.
func refuseUnsupported(hdr map[string]json.RawMessage, field string) error {
	for _, m := range []string{"zip", "crit"} {
		if _, ok := hdr[m]; ok {
			return kgerr.Errorf(kgerr.InvalidArgument, "%s.%s is not supported", field, m)
		}
	}
	return nil
}

// checkID validates an identifier used in the KDF or a header: 1 to maxID
// printable ASCII characters.
func checkID(s, field string) error {
	if s == "" || len(s) > maxID {
		return kgerr.Errorf(kgerr.InvalidArgument, "%s must be 1 to %d characters", field, maxID)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return kgerr.Errorf(kgerr.InvalidArgument, "%s must be printable ASCII", field)
		}
	}
	return nil
}
