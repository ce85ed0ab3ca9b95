package keys

import (
	"fmt"
	"regexp"
	"time"
)

// KeyState is the state of a logical key, as KMS names it.
type KeyState string

const (
	Enabled         KeyState = "ENABLED"
	Disabled        KeyState = "DISABLED"
	PendingDeletion KeyState = "PENDING_DELETION"
)

// VersionState is the lifecycle state of one key version.
type VersionState string

const (
	VersionPendingActivation VersionState = "PENDING_ACTIVATION" // created, e.g. waiting for its certificate
	VersionActive            VersionState = "ACTIVE"             // primary: new signatures and encryptions
	VersionRetired           VersionState = "RETIRED"            // verify and decrypt only
	VersionDisabled          VersionState = "DISABLED"           // no use at all, can come back
	VersionPendingDeletion   VersionState = "PENDING_DELETION"   // waiting period before destruction
	VersionDestroyed         VersionState = "DESTROYED"          // backend key gone
)

// Key is a logical key: a name callers use, and the backend keys behind it.
type Key struct {
	Name        string
	Description string
	Spec        Spec
	Usage       Usage
	Backend     string // configured backend name
	State       KeyState
	// Policy is the key-policy JSON document; empty until policies apply.
	Policy []byte
	// AllowRawSecret lets DeriveSharedSecret return the raw ECDH secret.
	AllowRawSecret bool
	// RotationPeriod, if set, makes keygated rotate the key itself when
	// its primary is that old (symmetric and HMAC keys).
	RotationPeriod time.Duration
	// Cryptoperiod is how long a version may make new outputs; 0 means
	// the configured default for the key's usage.
	Cryptoperiod time.Duration
	// TrustAnchors are the root certificates (DER) that an imported
	// chain must verify to: the DS CA's root for an ACS signing key.
	TrustAnchors [][]byte
	// DualControl names the operations on this key that need a second
	// admin's approval; nil means the server's default.
	DualControl []string
	CreatedAt   time.Time
	// Revision increases on every change; stores use it to refuse lost
	// updates when several replicas share one store.
	Revision int64
	Versions []Version
}

// Version is one backend key behind a logical key.
type Version struct {
	Number       uint32
	State        VersionState
	BackendKeyID string
	CreatedAt    time.Time
	// CertChain is the version's certificate chain, DER, leaf first.
	CertChain [][]byte
	// DeletionAt is when a PENDING_DELETION version may be destroyed.
	DeletionAt time.Time
	// Origin is where the material came from: OriginGenerated,
	// OriginAdopted or OriginExternal; "" for a version recorded before
	// keygate kept it (generated or adopted: the CreateKey event says).
	Origin string
	// Token is the PKCS#11 object's origin attributes as read when the
	// version was recorded; nil on a backend without them (KMS) and for
	// versions recorded before keygate kept them.
	Token *TokenAttrs
}

// The origins of a version's material. EXTERNAL is KMS's name for
// imported material; KMS has no word for the other two.
const (
	OriginGenerated = "GENERATED" // made in its backend by keygate
	OriginAdopted   = "ADOPTED"   // an existing backend key taken over by CreateKey
	OriginExternal  = "EXTERNAL"  // imported by ImportKeyMaterial (BYOK)
)

// TokenAttrs are the PKCS#11 attributes that tell a key generated in the
// token from one loaded into it, and whether it could ever have left it.
type TokenAttrs struct {
	Local            bool `json:"local"`             // CKA_LOCAL: generated in the token
	NeverExtractable bool `json:"never_extractable"` // CKA_NEVER_EXTRACTABLE
	AlwaysSensitive  bool `json:"always_sensitive"`  // CKA_ALWAYS_SENSITIVE
}

// String is the attributes as PKCS#11 names them, "" for nil.
func (t *TokenAttrs) String() string {
	if t == nil {
		return ""
	}
	return fmt.Sprintf("CKA_LOCAL=%t CKA_NEVER_EXTRACTABLE=%t CKA_ALWAYS_SENSITIVE=%t", t.Local, t.NeverExtractable, t.AlwaysSensitive)
}

// Imported reports whether the version's material came from outside its
// backend: imported by BYOK, or an adopted token object the token says it
// did not generate (a key loaded from a file).
func (v *Version) Imported() bool {
	return v.Origin == OriginExternal || v.Origin == OriginAdopted && v.Token != nil && !v.Token.Local
}

// External reports whether any version not yet destroyed holds imported
// material (Version.Imported): such a key's kms:KeyOrigin is EXTERNAL,
// whichever version a call uses, so a policy about origin never misses
// imported material.
func (k *Key) External() bool {
	for _, v := range k.Versions {
		if v.Imported() && v.State != VersionDestroyed {
			return true
		}
	}
	return false
}

// Primary is the active version, or nil if the key has none.
func (k *Key) Primary() *Version {
	for i := range k.Versions {
		if k.Versions[i].State == VersionActive {
			return &k.Versions[i]
		}
	}
	return nil
}

// Version returns version n, or nil.
func (k *Key) Version(n uint32) *Version {
	for i := range k.Versions {
		if k.Versions[i].Number == n {
			return &k.Versions[i]
		}
	}
	return nil
}

// Clone returns a deep copy, so callers can change it without touching a
// cached key that other requests are reading.
func (k *Key) Clone() *Key {
	c := *k
	c.Policy = append([]byte(nil), k.Policy...)
	c.TrustAnchors = append([][]byte(nil), k.TrustAnchors...)
	if k.DualControl != nil {
		c.DualControl = append([]string{}, k.DualControl...)
	}
	c.Versions = make([]Version, len(k.Versions))
	for i, v := range k.Versions {
		v.CertChain = append([][]byte(nil), v.CertChain...)
		if v.Token != nil {
			t := *v.Token
			v.Token = &t
		}
		c.Versions[i] = v
	}
	return &c
}

// Usable reports whether the version may serve an operation. New outputs
// (sign, encrypt, MAC, derive) need the active version; checking old
// outputs (verify, decrypt) also accepts a retired one.
func (v *Version) Usable(newOutput bool) bool {
	if v.State == VersionActive {
		return true
	}
	return !newOutput && v.State == VersionRetired
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9/_-]{1,256}$`)

// NameRule says what ValidName accepts, for error messages.
const NameRule = "1 to 256 letters, digits, '/', '_' or '-'"

// ValidName reports whether s can name a key: like a KMS alias name, 1-256
// letters, digits, '/', '_' and '-'. The set keeps names safe in ARNs,
// PKCS#11 labels, KMS tags, log lines and every audit output format.
func ValidName(s string) bool { return nameRE.MatchString(s) }
