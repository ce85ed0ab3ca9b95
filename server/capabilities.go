package server

import (
	"log/slog"
	"strings"

	"github.com/keygate/keygate/backends"
)

// logCapabilities says at start what a backend can and cannot do, so an
// operator learns that a token lacks EC before a CreateKey is refused.
func logCapabilities(log *slog.Logger, name string, b backends.Backend) {
	r, ok := b.(backends.CapabilityReporter)
	if !ok {
		return
	}
	var can, cannot []string
	for _, c := range r.Capabilities() {
		if c.Missing == "" {
			can = append(can, c.Kind.String())
		} else {
			cannot = append(cannot, c.Kind.String()+" (lacks "+c.Missing+")")
		}
	}
	log.Info("backend capabilities", "backend", name,
		"supported", strings.Join(can, ", "), "unsupported", strings.Join(cannot, ", "))
}
