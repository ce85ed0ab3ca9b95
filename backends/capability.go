package backends

import "github.com/keygate/keygate/keys"

// KeyKind is one key spec with one usage it allows: the unit in which a
// backend says what it can do.
type KeyKind struct {
	Spec  keys.Spec
	Usage keys.Usage
}

func (k KeyKind) String() string { return string(k.Spec) + "/" + string(k.Usage) }

// KeyKinds is every spec with every usage it allows, in a fixed order.
var KeyKinds = []KeyKind{
	{keys.ECCNISTP256, keys.SignVerify}, {keys.ECCNISTP384, keys.SignVerify},
	{keys.ECCNISTP256, keys.KeyAgreement}, {keys.ECCNISTP384, keys.KeyAgreement},
	{keys.RSA2048, keys.SignVerify}, {keys.RSA3072, keys.SignVerify}, {keys.RSA4096, keys.SignVerify},
	{keys.RSA2048, keys.EncryptDecrypt}, {keys.RSA3072, keys.EncryptDecrypt}, {keys.RSA4096, keys.EncryptDecrypt},
	{keys.SymmetricDefault, keys.EncryptDecrypt},
	{keys.HMAC256, keys.GenerateVerifyMac}, {keys.HMAC384, keys.GenerateVerifyMac}, {keys.HMAC512, keys.GenerateVerifyMac},
}

// Capability says whether a backend can create and use keys of one kind.
type Capability struct {
	Kind KeyKind
	// Missing names what the backend lacks (a PKCS#11 mechanism such as
	// CKM_EC_KEY_PAIR_GEN); empty when the kind is supported.
	Missing string
}

// CapabilityReporter is implemented by backends that learn what they can
// do when they open (a PKCS#11 token's mechanism list). Backends that do
// not implement it can do every kind (KMS).
type CapabilityReporter interface {
	Capabilities() []Capability
}
