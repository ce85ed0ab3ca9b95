package keyring

import (
	"strconv"
	"strings"

	"github.com/keygate/keygate/backends"
)

func backendsCreate(p CreateParams) backends.CreateRequest {
	return backends.CreateRequest{Spec: p.Spec, Usage: p.Usage, Label: p.Name + "/v1",
		Tags: map[string]string{"keygate:name": p.Name, "keygate:version": "1"}}
}

func quote(s string) string { return strconv.Quote(s) }

func join(probs []string) string { return strings.Join(probs, "; ") }
