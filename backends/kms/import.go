package kms

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

var _ backends.Importer = (*Backend)(nil)

// Bring your own key on KMS: KMS's own import. The wrapping key belongs to
// a KMS key of origin EXTERNAL made for the import (PendingImport until
// the material arrives), so the "wrapping key id" is that key's ARN and
// ImportKey's result is the same key. KMS's import token travels opaque
// inside keygate's and KMS checks it; the material never passes through
// keygate unwrapped.

// importDescription starts the Description of a key made for an import;
// the rest is the import's binding label (WrappingKeyLabel).
const importDescription = "keygate import "

// NewWrappingKey makes the key of origin EXTERNAL and asks KMS for its
// import parameters: an RSA 3072 public key and an import token.
func (b *Backend) NewWrappingKey(ctx context.Context, req backends.WrappingRequest) (backends.WrappingKey, error) {
	switch {
	case !req.Algorithm.Valid():
		return backends.WrappingKey{}, b.errorf(kgerr.InvalidArgument, "wrapping_algorithm %q is not one of RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, RSA_AES_KEY_WRAP_SHA_1, RSA_AES_KEY_WRAP_SHA_256", req.Algorithm)
	case !req.Spec.Valid() || !req.Usage.Valid() || !req.Spec.Allows(req.Usage):
		return backends.WrappingKey{}, b.errorf(kgerr.InvalidArgument, "key spec %q does not allow key usage %q", req.Spec, req.Usage)
	case req.Spec == keys.HMAC160:
		return backends.WrappingKey{}, b.errorf(kgerr.FailedPrecondition, "AWS KMS has no SHA-1 HMAC keys (HMAC_224 to HMAC_512)")
	case req.Spec.IsRSA() && !req.Algorithm.AESKeyWrap():
		return backends.WrappingKey{}, b.errorf(kgerr.InvalidArgument, "KMS imports an RSA private key only wrapped with RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1")
	}
	// The call's request id is GetParametersForImport's, the operation
	// the audit event names, so reconciliation joins the two.
	cctx := withNote(backends.WithCallInfo(ctx, &backends.CallInfo{}))
	made, err := b.client.CreateKey(cctx, &kms.CreateKeyInput{KeySpec: types.KeySpec(req.Spec), KeyUsage: types.KeyUsageType(req.Usage),
		Origin: types.OriginTypeExternal, Description: aws.String(importDescription + req.Label),
		Tags: tags(backends.CreateRequest{Label: req.KeyLabel})})
	if err != nil {
		return backends.WrappingKey{}, b.fail(cctx, "CreateKey", err)
	}
	done(cctx, made.ResultMetadata)
	if made.KeyMetadata == nil || aws.ToString(made.KeyMetadata.Arn) == "" {
		return backends.WrappingKey{}, b.errorf(kgerr.Internal, "CreateKey returned no key ARN")
	}
	arn := aws.ToString(made.KeyMetadata.Arn)
	w, err := b.importParameters(ctx, arn, req.Algorithm)
	if err != nil {
		// A key that can never take material is of no use to anyone.
		if derr := b.Destroy(context.WithoutCancel(ctx), arn); derr != nil {
			err = errors.Join(err, fmt.Errorf("KMS key %s made for the import left pending import: %w", arn, derr))
		}
		return backends.WrappingKey{}, err
	}
	return w, nil
}

func (b *Backend) importParameters(ctx context.Context, arn string, alg backends.WrappingAlgorithm) (backends.WrappingKey, error) {
	ctx = withNote(ctx)
	out, err := b.client.GetParametersForImport(ctx, &kms.GetParametersForImportInput{KeyId: aws.String(arn),
		WrappingAlgorithm: types.AlgorithmSpec(alg), WrappingKeySpec: types.WrappingKeySpec(fmt.Sprintf("RSA_%d", backends.WrappingKeyBits))})
	if err != nil {
		return backends.WrappingKey{}, b.fail(ctx, "GetParametersForImport", err)
	}
	done(ctx, out.ResultMetadata)
	if got := aws.ToString(out.KeyId); got != arn {
		return backends.WrappingKey{}, b.errorf(kgerr.Internal, "GetParametersForImport for %s answered for key %q", arn, got)
	}
	p, err := x509.ParsePKIXPublicKey(out.PublicKey)
	pub, ok := p.(*rsa.PublicKey)
	if err != nil || !ok || pub.N.BitLen() != backends.WrappingKeyBits || len(out.ImportToken) == 0 {
		return backends.WrappingKey{}, b.errorf(kgerr.Internal, "GetParametersForImport for %s gave no RSA %d public key and import token", arn, backends.WrappingKeyBits)
	}
	return backends.WrappingKey{ID: arn, Public: pub, Token: out.ImportToken}, nil
}

// WrappingKeyLabel is the binding label of a key made for an import that
// can still take material: of origin EXTERNAL and pending import.
func (b *Backend) WrappingKeyLabel(ctx context.Context, id string) (string, error) {
	// DescribeKey's request id is not the import's: ImportKeyMaterial's is.
	meta, err := b.describe(backends.WithCallInfo(ctx, &backends.CallInfo{}), id)
	if err != nil {
		return "", err
	}
	label, ok := strings.CutPrefix(aws.ToString(meta.Description), importDescription)
	if !ok || meta.Origin != types.OriginTypeExternal || meta.KeyState != types.KeyStatePendingImport {
		return "", b.errorf(kgerr.NotFound, "KMS key %s is not a key pending import made by keygate", aws.ToString(meta.Arn))
	}
	return label, nil
}

// ImportKey imports the wrapped material into the key the wrapping key
// belongs to, with material that does not expire (keygate's own lifecycle
// retires and deletes it), and returns that key's ARN.
func (b *Backend) ImportKey(ctx context.Context, req backends.ImportRequest) (string, error) {
	switch {
	case !req.Spec.Valid() || !req.Spec.Allows(req.Usage):
		return "", b.errorf(kgerr.InvalidArgument, "key spec %s does not allow key usage %s", req.Spec, req.Usage)
	case req.Spec.IsRSA() && !req.Algorithm.AESKeyWrap():
		return "", b.errorf(kgerr.InvalidArgument, "a %s private key is longer than one RSA block: wrap it with RSA_AES_KEY_WRAP_SHA_256 or RSA_AES_KEY_WRAP_SHA_1", req.Spec)
	case len(req.Token) == 0:
		return "", b.errorf(kgerr.InvalidArgument, "import_token holds no KMS import token: it was not issued for a key on this backend")
	case len(req.Material) == 0 || len(req.Material) > 6144:
		return "", kgerr.Errorf(kgerr.InvalidArgument, "%s", badMaterial(req, fmt.Sprintf("%d bytes is not a possible size (KMS takes 1 to 6144)", len(req.Material))))
	}
	if err := checkKeyRef(req.WrappingKeyID); err != nil {
		return "", b.errorf(kgerr.InvalidArgument, "%v", err)
	}
	ctx = withNote(ctx)
	out, err := b.client.ImportKeyMaterial(ctx, &kms.ImportKeyMaterialInput{KeyId: aws.String(req.WrappingKeyID),
		ImportToken: req.Token, EncryptedKeyMaterial: req.Material, ExpirationModel: types.ExpirationModelTypeKeyMaterialDoesNotExpire})
	if err != nil {
		return "", b.importFailed(ctx, req, err)
	}
	done(ctx, out.ResultMetadata)
	if got := aws.ToString(out.KeyId); got != "" && got != req.WrappingKeyID {
		return "", b.errorf(kgerr.Internal, "ImportKeyMaterial for %s answered for key %q", req.WrappingKeyID, got)
	}
	return req.WrappingKeyID, nil
}

// importFailed translates KMS's refusals of an import into what the
// operator must fix, naming the field; anything else as every call's.
func (b *Backend) importFailed(ctx context.Context, req backends.ImportRequest, err error) error {
	var (
		expired   *types.ExpiredImportTokenException
		badToken  *types.InvalidImportTokenException
		badCipher *types.InvalidCiphertextException
		badKey    *types.IncorrectKeyMaterialException
	)
	switch {
	case errors.As(err, &expired):
		requestIDOf(ctx, err)
		return kgerr.Wrap(kgerr.InvalidArgument, err, "import_token: KMS's import token has expired: get new import parameters")
	case errors.As(err, &badToken):
		requestIDOf(ctx, err)
		return kgerr.Wrap(kgerr.InvalidArgument, err, "import_token: KMS does not accept the import token for this key (altered, or issued for another key)")
	case errors.As(err, &badCipher):
		requestIDOf(ctx, err)
		return kgerr.Wrap(kgerr.InvalidArgument, err, badMaterial(req, "KMS could not unwrap it"))
	case errors.As(err, &badKey):
		requestIDOf(ctx, err)
		return kgerr.Wrap(kgerr.InvalidArgument, err, badMaterial(req, "KMS found it is not key material of that spec"))
	}
	return b.fail(ctx, "ImportKeyMaterial", err)
}

// badMaterial refuses material that does not make the key asked for: it
// says what was expected, never what was found inside.
func badMaterial(req backends.ImportRequest, why string) string {
	return fmt.Sprintf("encrypted_key_material: not a %s key wrapped with %s under this import's wrapping key: %s",
		req.Spec, req.Algorithm, why)
}
