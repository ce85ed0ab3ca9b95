//go:build cgo

package pkcs11

import (
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// caps is what the token can do, read once at Open from its mechanism list
// and mechanism info. Tokens differ widely (opencryptoki's software token
// has no EC and no AES-GCM), and a mechanism the token lacks must be a
// clear refusal naming it, not CKR_MECHANISM_INVALID reported as Internal.
type caps map[uint]p11.MechanismInfo

// readCaps reads the slot's mechanisms and their info.
func readCaps(a api, slot uint) (caps, error) {
	list, err := a.GetMechanismList(slot)
	if err != nil {
		return nil, fmt.Errorf("C_GetMechanismList: %w", err)
	}
	c := caps{}
	for _, m := range list {
		info, err := a.GetMechanismInfo(slot, []*p11.Mechanism{m})
		if err != nil {
			return nil, fmt.Errorf("C_GetMechanismInfo(%s): %w", mechName(m.Mechanism), err)
		}
		c[m.Mechanism] = info
	}
	return c, nil
}

// has reports whether the token offers mechanism m for the operations in
// flags (CKF_SIGN, CKF_GENERATE_KEY_PAIR, ...).
func (c caps) has(m, flags uint) bool {
	info, ok := c[m]
	return ok && info.Flags&flags == flags
}

// genMech is the mechanism that generates keys of spec s, and the flag it
// needs.
func genMech(s keys.Spec) (mech, flag uint) {
	switch {
	case s.IsEC():
		return p11.CKM_EC_KEY_PAIR_GEN, p11.CKF_GENERATE_KEY_PAIR
	case s.IsRSA():
		return p11.CKM_RSA_PKCS_KEY_PAIR_GEN, p11.CKF_GENERATE_KEY_PAIR
	case s == keys.SymmetricDefault:
		return p11.CKM_AES_KEY_GEN, p11.CKF_GENERATE
	}
	return p11.CKM_GENERIC_SECRET_KEY_GEN, p11.CKF_GENERATE
}

// useMechs are the mechanisms a key of kind k is used with, any one of
// which makes the kind usable, and the flag they need.
func useMechs(k backends.KeyKind) (mechs []uint, flag uint) {
	switch {
	case k.Usage == keys.KeyAgreement:
		return []uint{p11.CKM_ECDH1_DERIVE}, p11.CKF_DERIVE
	case k.Spec.IsEC():
		return []uint{p11.CKM_ECDSA}, p11.CKF_SIGN
	case k.Spec.IsRSA() && k.Usage == keys.SignVerify:
		return []uint{p11.CKM_RSA_PKCS_PSS, p11.CKM_RSA_PKCS}, p11.CKF_SIGN
	case k.Spec.IsRSA():
		// Without OAEP the token's raw RSA will do (oaep.go).
		return []uint{p11.CKM_RSA_PKCS_OAEP, p11.CKM_RSA_X_509}, p11.CKF_DECRYPT
	case k.Spec == keys.SymmetricDefault:
		return []uint{p11.CKM_AES_GCM}, p11.CKF_ENCRYPT | p11.CKF_DECRYPT
	}
	return []uint{hmacMech(k.Spec.MacAlgorithm())}, p11.CKF_SIGN
}

func hmacMech(a keys.MacAlgorithm) uint { return mechHMAC[a][0].Mechanism }

// missing names what the token lacks to create and use keys of kind k, or
// is empty.
func (c caps) missing(k backends.KeyKind) string {
	gen, flag := genMech(k.Spec)
	if !c.has(gen, flag) {
		return mechName(gen)
	}
	// Key sizes are in bits for RSA and EC (PKCS#11 3.0, 2.1 and 2.3);
	// tokens report 0 when they set no bound.
	if info := c[gen]; (k.Spec.IsRSA() || k.Spec.IsEC()) && info.MaxKeySize != 0 {
		bits := specSize(k.Spec)
		if k.Spec.IsEC() {
			bits *= 8
		}
		if bits < int(info.MinKeySize) || bits > int(info.MaxKeySize) {
			return fmt.Sprintf("%s for %d-bit keys (it offers %d to %d)", mechName(gen), bits, info.MinKeySize, info.MaxKeySize)
		}
	}
	mechs, flag := useMechs(k)
	for _, m := range mechs {
		if c.has(m, flag) {
			return ""
		}
	}
	names := make([]string, len(mechs))
	for i, m := range mechs {
		names[i] = mechName(m)
	}
	return strings.Join(names, " and ")
}

// Capabilities reports, per key spec and usage, what the token lacks.
func (b *Backend) Capabilities() []backends.Capability {
	out := make([]backends.Capability, len(backends.KeyKinds))
	for i, k := range backends.KeyKinds {
		out[i] = backends.Capability{Kind: k, Missing: b.missing(k)}
	}
	return out
}

// canCreate refuses a kind the token cannot create or use.
func (b *Backend) canCreate(k backends.KeyKind) error {
	if b.cloudHSM && k.Usage == keys.KeyAgreement {
		return b.errCloudHSMECDH(k.Spec)
	}
	if m := b.caps.missing(k); m != "" {
		return kgerr.Errorf(kgerr.FailedPrecondition, "token %s lacks %s: %s %s keys cannot be created there", b.name, m, k.Spec, k.Usage)
	}
	return nil
}

// canDo refuses an operation whose mechanism the token lacks.
func (b *Backend) canDo(op string, m, flag uint) error {
	if !b.caps.has(m, flag) {
		return kgerr.Errorf(kgerr.FailedPrecondition, "token %s lacks %s: %s is not possible there", b.name, mechName(m), op)
	}
	return nil
}

var mechNames = map[uint]string{
	p11.CKM_EC_KEY_PAIR_GEN: "CKM_EC_KEY_PAIR_GEN", p11.CKM_RSA_PKCS_KEY_PAIR_GEN: "CKM_RSA_PKCS_KEY_PAIR_GEN",
	p11.CKM_AES_KEY_GEN: "CKM_AES_KEY_GEN", p11.CKM_GENERIC_SECRET_KEY_GEN: "CKM_GENERIC_SECRET_KEY_GEN",
	p11.CKM_ECDSA: "CKM_ECDSA", p11.CKM_ECDH1_DERIVE: "CKM_ECDH1_DERIVE",
	p11.CKM_RSA_PKCS: "CKM_RSA_PKCS", p11.CKM_RSA_PKCS_PSS: "CKM_RSA_PKCS_PSS",
	p11.CKM_RSA_PKCS_OAEP: "CKM_RSA_PKCS_OAEP", p11.CKM_RSA_X_509: "CKM_RSA_X_509",
	p11.CKM_AES_KEY_WRAP_PAD: "CKM_AES_KEY_WRAP_PAD",
	p11.CKM_AES_GCM:          "CKM_AES_GCM", p11.CKM_SHA256_HMAC: "CKM_SHA256_HMAC",
	p11.CKM_SHA384_HMAC: "CKM_SHA384_HMAC", p11.CKM_SHA512_HMAC: "CKM_SHA512_HMAC",
}

func mechName(m uint) string {
	if n, ok := mechNames[m]; ok {
		return n
	}
	return fmt.Sprintf("mechanism 0x%x", m)
}
