package threeds

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// One-time passwords for the OTP challenge: HOTP (RFC 4226) and TOTP (RFC
// 6238) computed by the backend's HMAC over a GENERATE_VERIFY_MAC key that
// never leaves it (HMAC_160 for SHA-1, as RFC 4226 and most authenticators
// use; HMAC_256 or HMAC_512 for RFC 6238's other modes).

// OTPMode is HOTP (a counter) or TOTP (time steps).
type OTPMode string

const (
	HOTP OTPMode = "HOTP"
	TOTP OTPMode = "TOTP"
)

const (
	// MinOTPDigits and MaxOTPDigits bound a code's length: RFC 4226 asks
	// for at least 6; its truncation gives at most 9, 8 is the usual most.
	MinOTPDigits = 6
	MaxOTPDigits = 8
	// MaxOTPWindow bounds the look-ahead (HOTP) or the steps either side of
	// now (TOTP): each candidate is one backend HMAC.
	MaxOTPWindow = 10
	// DefaultTOTPStep is RFC 6238's X.
	DefaultTOTPStep = 30 * time.Second
)

// OTPInvalidMsg is the one answer for a wrong, replayed or out-of-window
// code, so a guesser learns nothing from the refusals.
const OTPInvalidMsg = "the one-time password is not valid"

// ComputeHOTP is RFC 4226's HOTP(K, C) with Digit = digits: the backend
// computes HMAC(K, C as 8 bytes big-endian) with the key's own MAC
// algorithm, then dynamic truncation (section 5.3) and mod 10^digits.
func ComputeHOTP(ctx context.Context, key backends.Key, counter uint64, digits int) (string, error) {
	if key.Usage() != keys.GenerateVerifyMac || !key.Spec().IsHMAC() {
		return "", kgerr.Errorf(kgerr.FailedPrecondition, "one-time passwords need a GENERATE_VERIFY_MAC (HMAC) key, this key is %s %s", key.Spec(), key.Usage())
	}
	if digits < MinOTPDigits || digits > MaxOTPDigits {
		return "", kgerr.Errorf(kgerr.InvalidArgument, "digits must be %d to %d", MinOTPDigits, MaxOTPDigits)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac, err := key.MAC(ctx, key.Spec().MacAlgorithm(), msg[:])
	if err != nil {
		return "", err
	}
	defer clear(mac)
	off := mac[len(mac)-1] & 0x0f
	bin := binary.BigEndian.Uint32(mac[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", digits, bin%uint32(math.Pow10(digits))), nil
}

// TOTPStep is RFC 6238's T = floor((t - T0) / X) with T0 = 0.
func TOTPStep(t time.Time, step time.Duration) uint64 {
	return uint64(t.Unix() / int64(step/time.Second))
}

// OTPParams describe one verification.
type OTPParams struct {
	Mode   OTPMode
	Digits int
	// Window is the look-ahead after the next expected counter (HOTP), or
	// the steps accepted either side of now (TOTP).
	Window int
	Step   time.Duration // TOTP; 0 means DefaultTOTPStep
}

func (p *OTPParams) check() error {
	if p.Mode != HOTP && p.Mode != TOTP {
		return kgerr.Errorf(kgerr.InvalidArgument, "mode must be HOTP or TOTP")
	}
	if p.Digits < MinOTPDigits || p.Digits > MaxOTPDigits {
		return kgerr.Errorf(kgerr.InvalidArgument, "digits must be %d to %d", MinOTPDigits, MaxOTPDigits)
	}
	if p.Window < 0 || p.Window > MaxOTPWindow {
		return kgerr.Errorf(kgerr.InvalidArgument, "window must be 0 to %d", MaxOTPWindow)
	}
	if p.Step == 0 {
		p.Step = DefaultTOTPStep
	}
	if p.Step < time.Second || p.Step > 10*time.Minute || p.Step%time.Second != 0 {
		return kgerr.Errorf(kgerr.InvalidArgument, "step must be whole seconds, 1s to 10m")
	}
	return nil
}

// OTPs verifies codes and refuses each counter (or time step) once it has
// been accepted: the store keeps, per key, the next counter that may be
// accepted, advanced by compare-and-swap so two replicas cannot both accept
// one code.
type OTPs struct {
	Store OTPStore
	Now   func() time.Time // nil means time.Now
}

// Verify checks code for key and returns the counter (HOTP) or time step
// (TOTP) it matched. HOTP tries next..next+Window; TOTP tries now±Window,
// skipping steps at or before the last accepted one. A wrong, replayed or
// out-of-window code is one InvalidArgument (OTPInvalidMsg).
func (o *OTPs) Verify(ctx context.Context, key backends.Key, code string, p OTPParams) (uint64, error) {
	if err := p.check(); err != nil {
		return 0, err
	}
	if len(code) != p.Digits || !allDigits(code) {
		return 0, kgerr.Errorf(kgerr.InvalidArgument, "otp must be %d digits", p.Digits)
	}
	id := string(p.Mode) + ":" + key.ID()
	next, err := o.Store.Next(ctx, id)
	if err != nil {
		return 0, err
	}
	lo, hi := next, next+uint64(p.Window)
	if p.Mode == TOTP {
		now := TOTPStep(o.now(), p.Step)
		lo, hi = max(now-min(now, uint64(p.Window)), next), now+uint64(p.Window)
	}
	if hi > math.MaxInt64-1 {
		return 0, kgerr.Errorf(kgerr.InvalidArgument, OTPInvalidMsg)
	}
	for c := lo; c <= hi; c++ {
		want, err := ComputeHOTP(ctx, key, c, p.Digits)
		if err != nil {
			return 0, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			err := o.Store.Advance(ctx, id, next, c+1)
			if errors.Is(err, ErrOTPRaced) {
				return 0, kgerr.Errorf(kgerr.InvalidArgument, OTPInvalidMsg) // another replica accepted a code meanwhile
			}
			if err != nil {
				return 0, err
			}
			return c, nil
		}
	}
	return 0, kgerr.Errorf(kgerr.InvalidArgument, OTPInvalidMsg)
}

func (o *OTPs) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
