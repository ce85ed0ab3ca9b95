package server

import (
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys/keyring"
)

// adoptedDetail is the audit detail of a CreateKey that adopted a backend
// key: where its material came from (generated in the token or imported,
// ever extractable), so the evidence shows an imported key for what it is.
func adoptedDetail(e *keyring.Entry) string {
	detail := "adopted backend key"
	if _, h, err := e.Handle(1, false); err == nil {
		if r, ok := h.(backends.ProvenanceReporter); ok {
			detail += ": " + r.Provenance().String()
		}
	}
	return detail
}
