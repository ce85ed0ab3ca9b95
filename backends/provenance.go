package backends

import "fmt"

// Provenance is what a backend can tell, at Open, about where a key's
// material came from: an assessor asks whether a key was generated inside
// the HSM and could ever have left it (issue 16.7), and an adopted key
// whose size the token would not state is accepted on its declared spec
// only with that on record.
type Provenance struct {
	// Known is false when the backend cannot tell (KMS keeps its own
	// record: the key's Origin).
	Known bool
	// Local: the key was generated in the token (PKCS#11 CKA_LOCAL), not
	// imported into it.
	Local bool
	// NeverExtractable and AlwaysSensitive: the key has never been
	// extractable, and has always been sensitive, since it was made.
	NeverExtractable, AlwaysSensitive bool
	// SizeFrom says how the key's size was established: the attribute read
	// (CKA_MODULUS, CKA_EC_PARAMS, CKA_VALUE_LEN), or the declared spec
	// when the token reports none.
	SizeFrom string
}

func (p Provenance) String() string {
	if !p.Known {
		return "provenance unknown"
	}
	return fmt.Sprintf("CKA_LOCAL=%t CKA_NEVER_EXTRACTABLE=%t CKA_ALWAYS_SENSITIVE=%t size from %s",
		p.Local, p.NeverExtractable, p.AlwaysSensitive, p.SizeFrom)
}

// ProvenanceReporter is implemented by keys whose backend reports their
// provenance (PKCS#11).
type ProvenanceReporter interface {
	Provenance() Provenance
}
