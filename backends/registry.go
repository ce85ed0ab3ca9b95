package backends

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"

	"gopkg.in/yaml.v3"
)

// OpenFunc builds a backend named name from its own section of the config
// file. It decodes that section strictly (see DecodeConfig).
type OpenFunc func(ctx context.Context, name string, cfg *yaml.Node) (Backend, error)

var (
	mu    sync.RWMutex
	types = map[string]OpenFunc{}
)

// Register makes a backend type available to configs ("pkcs11", "kms").
// Backend packages call it from init; cmd/keygated imports them for effect.
func Register(typ string, open OpenFunc) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := types[typ]; dup {
		panic("backends: type registered twice: " + typ)
	}
	types[typ] = open
}

// Types lists the registered backend types.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(types))
	for t := range types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Open builds a backend of a registered type.
func Open(ctx context.Context, typ, name string, cfg *yaml.Node) (Backend, error) {
	mu.RLock()
	open, ok := types[typ]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("backend %q: unknown type %q (this build has %v)", name, typ, Types())
	}
	return open(ctx, name, cfg)
}

// DecodeConfig decodes a backend's config section into v, rejecting keys
// that v does not have.
func DecodeConfig(node *yaml.Node, v any) error {
	if node == nil || node.Kind == 0 {
		return nil
	}
	raw, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	return dec.Decode(v)
}
