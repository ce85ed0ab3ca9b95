// Package memory is a keygate backend that keeps its keys in process
// memory, as SPIRE's memory key manager does: the backend the server's and
// the keyring's unit tests run on, proven by the same conformance suite
// (backends/backendtest) as PKCS#11 and KMS. Its keys die with the
// process, and it offers no protection a PCI deployment needs: keygated
// does not link it (only tests import it), so a config cannot name it.
package memory

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Type is the backend type a test config names.
const Type = "memory"

func init() {
	backends.Register(Type, func(_ context.Context, name string, cfg *yaml.Node) (backends.Backend, error) {
		var c struct{}
		if err := backends.DecodeConfig(cfg, &c); err != nil {
			return nil, err
		}
		return New(name), nil
	})
}

// Backend holds keys in memory. It is safe for concurrent use.
type Backend struct {
	name string
	mu   sync.RWMutex
	keys map[string]*material
	// refuse and opens are the fault seam tests use: Open fails for an id
	// in refuse, and every Open is counted.
	refuse map[string]error
	opens  int
}

// material is one key's secret and what it is.
type material struct {
	spec   keys.Spec
	usage  keys.Usage
	label  string
	signer *ecdsa.PrivateKey // EC (sign and key agreement)
	rsa    *rsa.PrivateKey
	secret []byte // AES-256 or HMAC
}

// New returns an empty backend named name.
func New(name string) *Backend {
	return &Backend{name: name, keys: map[string]*material{}, refuse: map[string]error{}}
}

func (b *Backend) Name() string { return b.name }

func (b *Backend) Close() error { return nil }

// CreateKey generates a key and returns a random 16-byte id in hex.
func (b *Backend) CreateKey(ctx context.Context, req backends.CreateRequest) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if !req.Spec.Allows(req.Usage) {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "key usage %s is not allowed for key spec %s", req.Usage, req.Spec)
	}
	m := &material{spec: req.Spec, usage: req.Usage, label: req.Label}
	var err error
	switch {
	case req.Spec == keys.ECCNISTP256:
		m.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case req.Spec == keys.ECCNISTP384:
		m.signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case req.Spec.IsRSA():
		m.rsa, err = rsa.GenerateKey(rand.Reader, rsaBits[req.Spec])
	case req.Spec == keys.SymmetricDefault:
		m.secret = randBytes(32)
	case req.Spec.IsHMAC():
		m.secret = randBytes(req.Spec.MacAlgorithm().Hash().Size())
	}
	if err != nil {
		return "", kgerr.Wrap(kgerr.Internal, err, "key generation failed")
	}
	id := hex.EncodeToString(randBytes(16))
	b.mu.Lock()
	b.keys[id] = m
	b.mu.Unlock()
	return id, nil
}

var rsaBits = map[keys.Spec]int{keys.RSA2048: 2048, keys.RSA3072: 3072, keys.RSA4096: 4096}

// Open returns a handle to a key, checking its spec and usage.
func (b *Backend) Open(ctx context.Context, id string, spec keys.Spec, usage keys.Usage) (backends.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.opens++
	m, ok := b.keys[id]
	refused := b.refuse[id]
	b.mu.Unlock()
	if refused != nil {
		return nil, refused
	}
	if !ok {
		return nil, kgerr.Errorf(kgerr.NotFound, "backend %s has no key %q", b.name, id)
	}
	if m.spec != spec || m.usage != usage {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "backend key %q is %s %s, not %s %s", id, m.spec, m.usage, spec, usage)
	}
	return &key{id: id, m: m}, nil
}

// Destroy removes a key, as an operator deleting it in an HSM would; tests
// use it to make a version unopenable.
func (b *Backend) Destroy(id string) {
	b.mu.Lock()
	delete(b.keys, id)
	b.mu.Unlock()
}

// Refuse makes Open of id fail with err (nil: open it again), as a KMS
// key disabled in KMS or a token object gone would.
func (b *Backend) Refuse(id string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		delete(b.refuse, id)
	} else {
		b.refuse[id] = err
	}
}

// Opens counts the calls to Open.
func (b *Backend) Opens() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.opens
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// ecdhKey is an EC key's private half for key agreement.
func (m *material) ecdhKey() (*ecdh.PrivateKey, error) {
	k, err := m.signer.ECDH()
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, "EC key")
	}
	return k, nil
}
