package keyring

import (
	"strconv"
	"strings"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
)

// tokenAttrs is what an open PKCS#11 key says of its origin, recorded
// with its version; nil for a backend that cannot tell (KMS).
func tokenAttrs(h backends.Key) *keys.TokenAttrs {
	r, ok := h.(backends.ProvenanceReporter)
	if !ok || !r.Provenance().Known {
		return nil
	}
	p := r.Provenance()
	return &keys.TokenAttrs{Local: p.Local, NeverExtractable: p.NeverExtractable, AlwaysSensitive: p.AlwaysSensitive}
}

func backendsCreate(p CreateParams) backends.CreateRequest {
	return backends.CreateRequest{Spec: p.Spec, Usage: p.Usage, Label: p.Name + "/v1",
		Tags: map[string]string{"keygate:name": p.Name, "keygate:version": "1"}}
}

func quote(s string) string { return strconv.Quote(s) }

func join(probs []string) string { return strings.Join(probs, "; ") }
