package kms

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/sony/gobreaker/v2"

	"github.com/keygate/keygate/internal/kgerr"
)

// A KMS that stays down must not have every caller's request piled on it
// (each one retried by the SDK): after breakerTrip calls in a row find KMS
// unavailable, the backend stops calling it for breakerOpen and answers
// Unavailable at once; then one call at a time tests it again.
const (
	breakerTrip = 5
	breakerOpen = 5 * time.Second
)

// errCircuitOpen is the open breaker's refusal; translate makes it
// Unavailable.
var errCircuitOpen = errors.New("KMS failed repeatedly; not calling it for now (circuit open)")

// breakerAPI is api behind a circuit breaker. Only KMS's own failures
// count (5xx, unreachable, no answer before the deadline): a throttled,
// denied or invalid request says KMS is up.
type breakerAPI struct {
	api
	cb *gobreaker.TwoStepCircuitBreaker[any]
}

func withBreaker(name string, a api) *breakerAPI {
	return &breakerAPI{api: a, cb: gobreaker.NewTwoStepCircuitBreaker[any](gobreaker.Settings{
		Name: name, MaxRequests: 1, Timeout: breakerOpen,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= breakerTrip },
		IsSuccessful: func(err error) bool { return !kmsDown(err) },
	})}
}

// kmsDown says whether err means KMS itself is failing.
func kmsDown(err error) bool {
	if err == nil {
		return false
	}
	switch kgerr.KindOf(translate("", "", err)) {
	case kgerr.Unavailable, kgerr.DeadlineExceeded:
		return !errors.Is(err, context.Canceled)
	}
	return false
}

// guard runs one KMS call through the breaker.
func guard[O any](b *breakerAPI, call func() (O, error)) (O, error) {
	done, err := b.cb.Allow()
	if err != nil {
		var zero O
		return zero, errCircuitOpen
	}
	out, err := call()
	done(!kmsDown(err))
	return out, err
}

type optFn = func(*kms.Options)

func (b *breakerAPI) CreateKey(ctx context.Context, in *kms.CreateKeyInput, o ...optFn) (*kms.CreateKeyOutput, error) {
	return guard(b, func() (*kms.CreateKeyOutput, error) { return b.api.CreateKey(ctx, in, o...) })
}
func (b *breakerAPI) DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, o ...optFn) (*kms.DescribeKeyOutput, error) {
	return guard(b, func() (*kms.DescribeKeyOutput, error) { return b.api.DescribeKey(ctx, in, o...) })
}
func (b *breakerAPI) GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, o ...optFn) (*kms.GetPublicKeyOutput, error) {
	return guard(b, func() (*kms.GetPublicKeyOutput, error) { return b.api.GetPublicKey(ctx, in, o...) })
}
func (b *breakerAPI) Sign(ctx context.Context, in *kms.SignInput, o ...optFn) (*kms.SignOutput, error) {
	return guard(b, func() (*kms.SignOutput, error) { return b.api.Sign(ctx, in, o...) })
}
func (b *breakerAPI) Verify(ctx context.Context, in *kms.VerifyInput, o ...optFn) (*kms.VerifyOutput, error) {
	return guard(b, func() (*kms.VerifyOutput, error) { return b.api.Verify(ctx, in, o...) })
}
func (b *breakerAPI) Encrypt(ctx context.Context, in *kms.EncryptInput, o ...optFn) (*kms.EncryptOutput, error) {
	return guard(b, func() (*kms.EncryptOutput, error) { return b.api.Encrypt(ctx, in, o...) })
}
func (b *breakerAPI) Decrypt(ctx context.Context, in *kms.DecryptInput, o ...optFn) (*kms.DecryptOutput, error) {
	return guard(b, func() (*kms.DecryptOutput, error) { return b.api.Decrypt(ctx, in, o...) })
}
func (b *breakerAPI) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, o ...optFn) (*kms.GenerateDataKeyOutput, error) {
	return guard(b, func() (*kms.GenerateDataKeyOutput, error) { return b.api.GenerateDataKey(ctx, in, o...) })
}
func (b *breakerAPI) GenerateMac(ctx context.Context, in *kms.GenerateMacInput, o ...optFn) (*kms.GenerateMacOutput, error) {
	return guard(b, func() (*kms.GenerateMacOutput, error) { return b.api.GenerateMac(ctx, in, o...) })
}
func (b *breakerAPI) VerifyMac(ctx context.Context, in *kms.VerifyMacInput, o ...optFn) (*kms.VerifyMacOutput, error) {
	return guard(b, func() (*kms.VerifyMacOutput, error) { return b.api.VerifyMac(ctx, in, o...) })
}
func (b *breakerAPI) DeriveSharedSecret(ctx context.Context, in *kms.DeriveSharedSecretInput, o ...optFn) (*kms.DeriveSharedSecretOutput, error) {
	return guard(b, func() (*kms.DeriveSharedSecretOutput, error) { return b.api.DeriveSharedSecret(ctx, in, o...) })
}
func (b *breakerAPI) GetParametersForImport(ctx context.Context, in *kms.GetParametersForImportInput, o ...optFn) (*kms.GetParametersForImportOutput, error) {
	return guard(b, func() (*kms.GetParametersForImportOutput, error) { return b.api.GetParametersForImport(ctx, in, o...) })
}
func (b *breakerAPI) ImportKeyMaterial(ctx context.Context, in *kms.ImportKeyMaterialInput, o ...optFn) (*kms.ImportKeyMaterialOutput, error) {
	return guard(b, func() (*kms.ImportKeyMaterialOutput, error) { return b.api.ImportKeyMaterial(ctx, in, o...) })
}
