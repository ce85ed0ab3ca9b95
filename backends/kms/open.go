package kms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"regexp"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// The key references KMS accepts: a key id, a key ARN, an alias name or an
// alias ARN. Checked here so a typo is InvalidArgument, not a KMS call.
var (
	keyIDRe    = `(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})`
	aliasRe    = `alias/[a-zA-Z0-9/_-]{1,250}`
	arnPrefix  = `arn:aws(?:-[a-z]+)*:kms:[a-z0-9-]+:[0-9]{12}:`
	keyRefExpr = regexp.MustCompile(`^(?:` + keyIDRe + `|` + aliasRe + `|` + arnPrefix + `key/` + keyIDRe + `|` + arnPrefix + aliasRe + `)$`)
)

func checkKeyRef(id string) error {
	if !keyRefExpr.MatchString(id) {
		return fmt.Errorf("key id %q is not a KMS key id, key ARN, alias/NAME or alias ARN", id)
	}
	return nil
}

// Open resolves a key id, key ARN or alias to a handle whose ID is the key
// ARN. It checks the key's spec and usage, and caches the public key of an
// asymmetric key (which KMS gives only while the key is enabled).
func (b *Backend) Open(ctx context.Context, id string, spec keys.Spec, usage keys.Usage) (backends.Key, error) {
	if !spec.Valid() || !usage.Valid() || !spec.Allows(usage) {
		return nil, b.errorf(kgerr.InvalidArgument, "key spec %q does not allow key usage %q", spec, usage)
	}
	meta, err := b.describe(ctx, id)
	if err != nil {
		return nil, err
	}
	arn := aws.ToString(meta.Arn)
	if string(meta.KeySpec) != string(spec) || string(meta.KeyUsage) != string(usage) {
		return nil, b.errorf(kgerr.FailedPrecondition, "KMS key %s is %s %s, not %s %s",
			arn, meta.KeySpec, meta.KeyUsage, spec, usage)
	}
	k := &Key{b: b, arn: arn, spec: spec, usage: usage}
	if spec.IsEC() || spec.IsRSA() {
		if k.pub, err = b.publicKey(ctx, arn, spec); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// publicKey fetches and checks the public key of an asymmetric key.
func (b *Backend) publicKey(ctx context.Context, arn string, spec keys.Spec) (crypto.PublicKey, error) {
	ctx = withNote(ctx)
	out, err := b.client.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(arn)})
	if err != nil {
		return nil, b.fail(ctx, "GetPublicKey", err)
	}
	done(ctx, out.ResultMetadata)
	if got := aws.ToString(out.KeyId); got != arn {
		return nil, b.errorf(kgerr.Internal, "GetPublicKey for %s answered for key %q", arn, got)
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, kgerr.Wrap(kgerr.Internal, err, fmt.Sprintf("kms backend %q: public key of %s does not parse", b.name, arn))
	}
	if !pubMatches(pub, spec) {
		return nil, b.errorf(kgerr.Internal, "public key of %s is a %T, not %s", arn, pub, spec)
	}
	if out.KeySpec != types.KeySpec(spec) {
		return nil, b.errorf(kgerr.Internal, "GetPublicKey says %s is %s, not %s", arn, out.KeySpec, spec)
	}
	return pub, nil
}

// pubMatches reports whether pub is the kind of key spec names.
func pubMatches(pub crypto.PublicKey, spec keys.Spec) bool {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		return (spec == keys.ECCNISTP256 && p.Curve == elliptic.P256()) ||
			(spec == keys.ECCNISTP384 && p.Curve == elliptic.P384())
	case *rsa.PublicKey:
		bits := map[keys.Spec]int{keys.RSA2048: 2048, keys.RSA3072: 3072, keys.RSA4096: 4096}
		return bits[spec] == p.N.BitLen()
	}
	return false
}
