package server

import (
	"fmt"
	"sort"
	"strings"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
)

// checkpointKeyError explains a checkpoint key that could not be created:
// which configured backends could make one, and of which spec, or that
// none can, so the operator knows what to set rather than meet a bare
// mechanism error (a token without EC cannot make the default P-256 key).
func (s *Server) checkpointKeyError(err error) error {
	ac := s.cfg.Audit
	var could []string
	for _, bc := range s.cfg.Backends {
		var specs []string
		for spec := range audit.CheckpointSpecs {
			if canMake(s.backends[bc.Name], spec) {
				specs = append(specs, string(spec))
			}
		}
		if len(specs) > 0 {
			sort.Strings(specs)
			could = append(could, fmt.Sprintf("%s (%s)", bc.Name, strings.Join(specs, ", ")))
		}
	}
	hint := "no configured backend can make a checkpoint key (ECC_NIST_P256 or RSA SIGN_VERIFY): configure one that can"
	if len(could) > 0 {
		hint = "set audit.signing_key_backend and audit.signing_key_spec to one of: " + strings.Join(could, "; ")
	}
	return fmt.Errorf("audit: checkpoint key %q cannot be created as %s in backend %q: %w; %s",
		ac.SigningKey, ac.SigningKeySpec, ac.SigningKeyBackend, err, hint)
}

// canMake reports whether b says it can make SIGN_VERIFY keys of spec
// (backends that do not report capabilities can make every kind).
func canMake(b backends.Backend, spec keys.Spec) bool {
	r, ok := b.(backends.CapabilityReporter)
	if !ok {
		return b != nil
	}
	for _, c := range r.Capabilities() {
		if c.Kind == (backends.KeyKind{Spec: spec, Usage: keys.SignVerify}) {
			return c.Missing == ""
		}
	}
	return false
}
