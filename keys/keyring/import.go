package keyring

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Bring your own key, as KMS's GetParametersForImport and
// ImportKeyMaterial: ImportParams makes a wrapping key in the key's
// backend for its next version; Import unwraps the operator's material
// there into that version, whose origin is EXTERNAL.
//
// The import token is not a secret: it names the key, the version, the
// wrapping key and its expiry. What makes it trustworthy is the wrapping
// key's label in the backend, written when it was made and compared on
// import, so an edited token (a later expiry, another key) names no
// wrapping key that matches it.

// ImportTokenTTL is how long import parameters are valid (KMS: 24 hours).
const ImportTokenTTL = 24 * time.Hour

// DefaultWrappingAlgorithm wraps every kind of key: symmetric and HMAC
// keys, and private keys longer than one RSA block.
const DefaultWrappingAlgorithm = backends.RSAAESKeyWrapSHA256

// ImportParams is what the operator needs to wrap material for a version.
type ImportParams struct {
	Version   uint32
	Algorithm backends.WrappingAlgorithm
	PublicKey *rsa.PublicKey
	Token     string
	ExpiresAt time.Time
}

// importToken is the token's content (base64url JSON). Backend is the
// backend's own import token (KMS's ImportToken), carried opaque: KMS
// checks it, bound to the KMS key that is this version's.
type importToken struct {
	Key       string `json:"k"`
	Version   uint32 `json:"v"`
	Wrap      string `json:"w"`
	Algorithm string `json:"a"`
	Expires   int64  `json:"e"`
	Backend   []byte `json:"b,omitempty"`
}

// label is the wrapping key's label in the backend, which binds the token.
func (t importToken) label() string {
	return "keygate-import:" + t.Key + "/v" + strconv.FormatUint(uint64(t.Version), 10) + ":" + t.Algorithm + ":" + strconv.FormatInt(t.Expires, 10)
}

func (t importToken) encode() string {
	b, _ := json.Marshal(t) // strings and numbers cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseImportToken(s string) (importToken, error) {
	var t importToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Key == "" || t.Wrap == "" || t.Version == 0 {
		return t, kgerr.Errorf(kgerr.InvalidArgument, "import_token is not a keygate import token")
	}
	return t, nil
}

// nextVersion is the number a new version of k gets.
func nextVersion(k *keys.Key) uint32 {
	var next uint32 = 1
	for _, v := range k.Versions {
		next = max(next, v.Number+1)
	}
	return next
}

func (r *Keyring) importer(k *keys.Key) (backends.Importer, backends.Backend, error) {
	b, err := r.Backend(k.Backend)
	if err != nil {
		return nil, nil, err
	}
	imp, ok := b.(backends.Importer)
	if !ok {
		return nil, nil, kgerr.Errorf(kgerr.FailedPrecondition, "backend %q cannot import key material", k.Backend)
	}
	return imp, b, nil
}

// ImportParams makes a wrapping key for version n of key name, which must
// be its next version (0: the next version). alg "" is
// DefaultWrappingAlgorithm.
func (r *Keyring) ImportParams(ctx context.Context, name string, n uint32, alg backends.WrappingAlgorithm) (ImportParams, error) {
	if alg == "" {
		alg = DefaultWrappingAlgorithm
	}
	if !alg.Valid() {
		return ImportParams{}, kgerr.Errorf(kgerr.InvalidArgument,
			"wrapping_algorithm %q is not one of RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256", alg)
	}
	k, err := r.store.GetKey(ctx, name)
	if err != nil {
		return ImportParams{}, err
	}
	if k.State != keys.Enabled {
		return ImportParams{}, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s; only an enabled key takes new material", name, k.State)
	}
	for _, v := range k.Versions {
		if v.State == keys.VersionPendingActivation {
			return ImportParams{}, kgerr.Errorf(kgerr.FailedPrecondition,
				"key %q version %d is already PENDING_ACTIVATION; activate it or schedule its deletion first", name, v.Number)
		}
	}
	next := nextVersion(k)
	if n == 0 {
		n = next
	}
	if n != next {
		return ImportParams{}, kgerr.Errorf(kgerr.InvalidArgument, "version %d: material can only be imported into the next version of key %q, %d", n, name, next)
	}
	imp, _, err := r.importer(k)
	if err != nil {
		return ImportParams{}, err
	}
	exp := r.now().Add(ImportTokenTTL).UTC().Truncate(time.Second)
	t := importToken{Key: name, Version: n, Algorithm: string(alg), Expires: exp.Unix()}
	w, err := imp.NewWrappingKey(ctx, backends.WrappingRequest{Label: t.label(), Algorithm: alg,
		Spec: k.Spec, Usage: k.Usage, KeyLabel: name + "/v" + strconv.FormatUint(uint64(n), 10)})
	if err != nil {
		return ImportParams{}, err
	}
	t.Wrap, t.Backend = w.ID, w.Token
	return ImportParams{Version: n, Algorithm: alg, PublicKey: w.Public, Token: t.encode(), ExpiresAt: exp}, nil
}

// Import unwraps material into version n of key name with the wrapping
// key token names. The version is made as Rotate makes one (symmetric and
// HMAC keys: primary at once; asymmetric: PENDING_ACTIVATION), with origin
// EXTERNAL. The wrapping key is destroyed after a successful import.
func (r *Keyring) Import(ctx context.Context, name string, n uint32, token string, material []byte) (*Entry, Transition, error) {
	t, err := parseImportToken(token)
	if err != nil {
		return nil, Transition{}, err
	}
	switch {
	case t.Key != name || t.Version != n:
		return nil, Transition{}, kgerr.Errorf(kgerr.InvalidArgument, "import_token was not issued for key %q version %d", name, n)
	case !r.now().Before(time.Unix(t.Expires, 0)):
		return nil, Transition{}, kgerr.Errorf(kgerr.InvalidArgument, "import_token expired at %s: get new import parameters",
			time.Unix(t.Expires, 0).UTC().Format(time.RFC3339))
	case len(material) == 0:
		return nil, Transition{}, kgerr.Errorf(kgerr.InvalidArgument, "encrypted_key_material is required")
	}
	var (
		wrapper backends.Backend
		made    string
	)
	e, tr, err := r.newVersion(ctx, name, n, keys.OriginExternal, func(b backends.Backend, k *keys.Key, label string, _ map[string]string) (string, error) {
		imp, ok := b.(backends.Importer)
		if !ok {
			return "", kgerr.Errorf(kgerr.FailedPrecondition, "backend %q cannot import key material", k.Backend)
		}
		got, err := imp.WrappingKeyLabel(ctx, t.Wrap)
		if kgerr.KindOf(err) == kgerr.NotFound || err == nil && got != t.label() {
			return "", kgerr.Errorf(kgerr.InvalidArgument, "import_token names no current wrapping key for key %q version %d in backend %q (used already, or altered)", name, n, b.Name())
		}
		if err != nil {
			return "", err
		}
		wrapper = b
		made, err = imp.ImportKey(ctx, backends.ImportRequest{WrappingKeyID: t.Wrap, Token: t.Backend,
			Algorithm: backends.WrappingAlgorithm(t.Algorithm), Material: material, Spec: k.Spec, Usage: k.Usage, Label: label})
		return made, err
	})
	if err == nil && made != t.Wrap {
		// The token is single use. A wrapping key that cannot be destroyed
		// now is harmless: its label's expiry refuses it. (On KMS the
		// wrapping key's key took the material: it is the new version.)
		if d, ok := wrapper.(backends.Deleter); ok {
			_ = d.Destroy(context.WithoutCancel(ctx), t.Wrap)
		}
	}
	return e, tr, err
}
