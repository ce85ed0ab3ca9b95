package threeds

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/pkcs11"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/test/softhsm"
)

// otpKeys are RFC 4226's and RFC 6238's published seeds, put inside a fresh
// SoftHSM2 token as non-extractable HMAC keys and opened by the pkcs11
// backend: every HMAC below is computed by the token.
func otpKeys(t *testing.T) map[keys.Spec]backends.Key {
	t.Helper()
	tok := softhsm.New(t)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(tok.PIN), 0o600); err != nil {
		t.Fatal(err)
	}
	seeds := map[keys.Spec]string{
		keys.HMAC160: "12345678901234567890",
		keys.HMAC256: "12345678901234567890123456789012",
		keys.HMAC512: "1234567890123456789012345678901234567890123456789012345678901234",
	}
	ids := map[keys.Spec]string{}
	for spec, seed := range seeds {
		ids[spec] = tok.ImportSecret(t, "otp-"+string(spec), []byte(seed))
	}
	ctx := context.Background()
	b, err := pkcs11.Open(ctx, "hsm", pkcs11.Config{Module: tok.Module, TokenLabel: tok.Label, PINFile: pinFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	out := map[keys.Spec]backends.Key{}
	for spec, id := range ids {
		if out[spec], err = b.Open(ctx, id, spec, keys.GenerateVerifyMac); err != nil {
			t.Fatalf("open %s: %v", spec, err)
		}
	}
	return out
}

// RFC 4226 Appendix D (HMAC-SHA-1, 6 digits) and RFC 6238 Appendix B
// (SHA-1, SHA-256, SHA-512, 8 digits, X = 30 s), through SoftHSM2.
func TestOTPVectorsThroughSoftHSM(t *testing.T) {
	k := otpKeys(t)
	ctx := context.Background()
	rfc4226 := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for c, want := range rfc4226 {
		if got, err := ComputeHOTP(ctx, k[keys.HMAC160], uint64(c), 6); err != nil || got != want {
			t.Errorf("RFC 4226 count %d: %q %v, want %s", c, got, err, want)
		}
	}
	rfc6238 := []struct {
		unix int64
		want map[keys.Spec]string
	}{
		{59, map[keys.Spec]string{keys.HMAC160: "94287082", keys.HMAC256: "46119246", keys.HMAC512: "90693936"}},
		{1111111109, map[keys.Spec]string{keys.HMAC160: "07081804", keys.HMAC256: "68084774", keys.HMAC512: "25091201"}},
		{1111111111, map[keys.Spec]string{keys.HMAC160: "14050471", keys.HMAC256: "67062674", keys.HMAC512: "99943326"}},
		{1234567890, map[keys.Spec]string{keys.HMAC160: "89005924", keys.HMAC256: "91819424", keys.HMAC512: "93441116"}},
		{2000000000, map[keys.Spec]string{keys.HMAC160: "69279037", keys.HMAC256: "90698825", keys.HMAC512: "38618901"}},
		{20000000000, map[keys.Spec]string{keys.HMAC160: "65353130", keys.HMAC256: "77737706", keys.HMAC512: "47863826"}},
	}
	for _, v := range rfc6238 {
		for spec, want := range v.want {
			step := TOTPStep(time.Unix(v.unix, 0), DefaultTOTPStep)
			if got, err := ComputeHOTP(ctx, k[spec], step, 8); err != nil || got != want {
				t.Errorf("RFC 6238 T=%d %s: %q %v, want %s", v.unix, spec, got, err, want)
			}
			// Verification at that time accepts it, through the same token.
			o := &OTPs{Store: &MemoryOTPStore{}, Now: func() time.Time { return time.Unix(v.unix, 0) }}
			if got, err := o.Verify(ctx, k[spec], want, OTPParams{Mode: TOTP, Digits: 8}); err != nil || got != step {
				t.Errorf("RFC 6238 T=%d %s: Verify = %d %v", v.unix, spec, got, err)
			}
		}
	}
}

// HOTP look-ahead, replay refusal and one error for every wrong code.
func TestHOTPWindowAndReplay(t *testing.T) {
	key := otpKeys(t)[keys.HMAC160]
	ctx := context.Background()
	o := &OTPs{Store: &MemoryOTPStore{}}
	p := OTPParams{Mode: HOTP, Digits: 6, Window: 3}
	// Counts 0-2 were generated but never entered: 3 is still in the window.
	if c, err := o.Verify(ctx, key, "969429", p); err != nil || c != 3 {
		t.Fatalf("count 3 within the look-ahead: %d %v", c, err)
	}
	for name, code := range map[string]string{
		"replayed":              "969429",
		"an older, unused code": "287082", // count 1: below the accepted 3
		"beyond the window":     "399871", // count 8: next is 4, window 4..7
		"wrong":                 "000000",
	} {
		_, err := o.Verify(ctx, key, code, p)
		if kgerr.KindOf(err) != kgerr.InvalidArgument || kgerr.Message(err) != OTPInvalidMsg {
			t.Fatalf("%s: %v, want the one InvalidArgument", name, err)
		}
	}
	if c, err := o.Verify(ctx, key, "287922", p); err != nil || c != 6 { // count 6, within 4..7
		t.Fatalf("count 6: %d %v", c, err)
	}
	_, err := o.Verify(ctx, key, "12345", p)
	wantKind(t, err, kgerr.InvalidArgument, "otp must be 6 digits")
	_, err = o.Verify(ctx, key, "755224", OTPParams{Mode: HOTP, Digits: 6, Window: MaxOTPWindow + 1})
	wantKind(t, err, kgerr.InvalidArgument, "window must be 0 to 10")
}

// TOTP: a step either side of now within the window; a used step, even
// within the window, is refused; and the SQL store makes one of two
// replicas win.
func TestTOTPWindowReplayAndReplicas(t *testing.T) {
	key := otpKeys(t)[keys.HMAC256]
	ctx := context.Background()
	db, err := sqldb.Open(sqldb.SQLite, filepath.Join(t.TempDir(), "otp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := NewSQLOTPStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1111111111, 0)
	o := &OTPs{Store: store, Now: func() time.Time { return now }}
	p := OTPParams{Mode: TOTP, Digits: 8, Window: 1}
	prev, _ := ComputeHOTP(ctx, key, TOTPStep(now, DefaultTOTPStep)-1, 8)
	cur, _ := ComputeHOTP(ctx, key, TOTPStep(now, DefaultTOTPStep), 8)
	far, _ := ComputeHOTP(ctx, key, TOTPStep(now, DefaultTOTPStep)+2, 8)
	if _, err := o.Verify(ctx, key, far, p); kgerr.Message(err) != OTPInvalidMsg {
		t.Fatalf("two steps ahead: %v", err)
	}
	if _, err := o.Verify(ctx, key, prev, p); err != nil {
		t.Fatalf("one step back: %v", err)
	}
	// Two replicas receive the current code at once: exactly one accepts.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		r := &OTPs{Store: store, Now: o.Now}
		wg.Go(func() { _, errs[i] = r.Verify(ctx, key, cur, p) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if kgerr.Message(err) != OTPInvalidMsg {
			t.Fatalf("loser: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d replicas accepted one TOTP", ok)
	}
	if _, err := o.Verify(ctx, key, prev, p); kgerr.Message(err) != OTPInvalidMsg {
		t.Fatalf("an older step after a newer one: %v", err)
	}
}
