package server

import (
	"context"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/threeds"
)

// GenerateOtp and VerifyOtp have their own actions (keygate:GenerateOtp,
// keygate:VerifyOtp): a principal with kms:GenerateMac on an OTP key could
// compute every code itself, so an OTP key's policy should grant only
// these. The code is never put in the audit record.

func (ts *threeDSService) GenerateOtp(ctx context.Context, req *pb.GenerateOtpRequest) (*pb.GenerateOtpResponse, error) {
	c := callOf(ctx)
	digits := otpDigits(req.Digits)
	v, h := c.version, c.handle
	if err := checkOTPMode(req.Mode); err != nil {
		return nil, err
	}
	counter := req.Counter
	if threeds.OTPMode(req.Mode) == threeds.TOTP {
		if req.Counter != 0 {
			return nil, kgerr.Errorf(kgerr.InvalidArgument, "counter is for HOTP; TOTP uses the server's time")
		}
		step, err := otpStep(req.StepSeconds)
		if err != nil {
			return nil, err
		}
		counter = threeds.TOTPStep(time.Now(), step)
	}
	otp, err := threeds.ComputeHOTP(ctx, h, counter, digits)
	if err != nil {
		return nil, err
	}
	c.Detail = req.Mode + " counter " + uitoa(counter)
	return &pb.GenerateOtpResponse{Otp: otp, Counter: counter, KeyVersion: v.Number}, nil
}

func (ts *threeDSService) VerifyOtp(ctx context.Context, req *pb.VerifyOtpRequest) (*pb.VerifyOtpResponse, error) {
	c := callOf(ctx)
	v, h := c.version, c.handle
	if err := checkOTPMode(req.Mode); err != nil {
		return nil, err
	}
	step, err := otpStep(req.StepSeconds)
	if err != nil {
		return nil, err
	}
	o := &threeds.OTPs{Store: ts.otp}
	counter, err := o.Verify(ctx, h, req.Otp, threeds.OTPParams{Mode: threeds.OTPMode(req.Mode),
		Digits: otpDigits(req.Digits), Window: int(min(req.Window, threeds.MaxOTPWindow+1)), Step: step})
	if err != nil {
		return nil, err
	}
	c.Detail = req.Mode + " counter " + uitoa(counter)
	return &pb.VerifyOtpResponse{Counter: counter, KeyVersion: v.Number}, nil
}

func checkOTPMode(mode string) error {
	if m := threeds.OTPMode(mode); m != threeds.HOTP && m != threeds.TOTP {
		return kgerr.Errorf(kgerr.InvalidArgument, "mode must be HOTP or TOTP")
	}
	return nil
}

func otpDigits(d uint32) int {
	if d == 0 {
		return threeds.MinOTPDigits
	}
	return int(min(d, 100))
}

func otpStep(seconds uint32) (time.Duration, error) {
	if seconds == 0 {
		return threeds.DefaultTOTPStep, nil
	}
	if seconds > 600 {
		return 0, kgerr.Errorf(kgerr.InvalidArgument, "step_seconds must be 1 to 600")
	}
	return time.Duration(seconds) * time.Second, nil
}

func uitoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}
