package pkcs11key

import (
	"context"
	"errors"
)

// ErrPINIncorrect is what Open returns when the token refuses the PIN.
var ErrPINIncorrect = errors.New("the PIN is incorrect")

// PINPrompt asks the user for a token's PIN when the URI gives none; token
// is the token's label. The CLI reads it from the terminal without echo.
type PINPrompt func(ctx context.Context, token string) (string, error)

// Option configures Open and Generate.
type Option func(*options)

type options struct {
	prompt PINPrompt
}

// WithPINPrompt is how the PIN is asked for when the URI has neither
// pin-source nor pin-value. Without it such a URI is refused.
func WithPINPrompt(p PINPrompt) Option { return func(o *options) { o.prompt = p } }
