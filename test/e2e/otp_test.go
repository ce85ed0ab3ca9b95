package e2e

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// Issue 15.6 over the real server: HOTP and TOTP codes under an HMAC_160
// key made in SoftHSM2, the look-ahead window, replay refusal, the OTP
// actions, and no code in the audit log.
func TestOneTimePasswords(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKeyWithPolicy("otp-seed", "HMAC_160", "GENERATE_VERIFY_MAC", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "AcsOTP", Principals: []string{harness.ARN("acs")}, Actions: []string{"keygate:GenerateOtp", "keygate:VerifyOtp"}}))
	ctx := context.Background()
	acs := pb.NewThreeDSServiceClient(env.Conn("acs"))

	var codes6 []string
	for c := range 4 {
		got, err := acs.GenerateOtp(ctx, &pb.GenerateOtpRequest{KeyId: "otp-seed", Mode: "HOTP", Counter: uint64(c)})
		if err != nil || len(got.Otp) != 6 || got.Counter != uint64(c) {
			t.Fatalf("GenerateOtp %d: %v %v", c, got, err)
		}
		codes6 = append(codes6, got.Otp)
	}
	// Count 2 within a window of 2 after the next expected (0): accepted.
	v, err := acs.VerifyOtp(ctx, &pb.VerifyOtpRequest{KeyId: "otp-seed", Mode: "HOTP", Otp: codes6[2], Window: 2})
	if err != nil || v.Counter != 2 {
		t.Fatalf("VerifyOtp count 2: %v %v", v, err)
	}
	var msgs []string
	for _, code := range []string{codes6[2], codes6[0], "000000"} { // replayed, older, (almost surely) wrong
		if code == codes6[3] {
			continue
		}
		_, err := acs.VerifyOtp(ctx, &pb.VerifyOtpRequest{KeyId: "otp-seed", Mode: "HOTP", Otp: code, Window: 2})
		wantCode(t, err, codes.InvalidArgument)
		msgs = append(msgs, status.Convert(err).Message())
	}
	for _, m := range msgs {
		if m != msgs[0] {
			t.Fatalf("refusals differ: %q", msgs)
		}
	}
	if _, err := acs.VerifyOtp(ctx, &pb.VerifyOtpRequest{KeyId: "otp-seed", Mode: "HOTP", Otp: codes6[3]}); err != nil {
		t.Fatalf("count 3, the next one: %v", err)
	}

	// TOTP at the server's time, 8 digits, one step either side.
	got, err := acs.GenerateOtp(ctx, &pb.GenerateOtpRequest{KeyId: "otp-seed", Mode: "TOTP", Digits: 8})
	if err != nil || len(got.Otp) != 8 {
		t.Fatalf("TOTP: %v %v", got, err)
	}
	if _, err := acs.VerifyOtp(ctx, &pb.VerifyOtpRequest{KeyId: "otp-seed", Mode: "TOTP", Otp: got.Otp, Digits: 8, Window: 1}); err != nil {
		t.Fatalf("TOTP verify: %v", err)
	}
	_, err = acs.VerifyOtp(ctx, &pb.VerifyOtpRequest{KeyId: "otp-seed", Mode: "TOTP", Otp: got.Otp, Digits: 8, Window: 1})
	wantCode(t, err, codes.InvalidArgument) // the step is used

	// Bad input names the field; another principal is denied.
	_, err = acs.GenerateOtp(ctx, &pb.GenerateOtpRequest{KeyId: "otp-seed", Mode: "SMS"})
	wantCode(t, err, codes.InvalidArgument)
	_, err = acs.VerifyOtp(ctx, &pb.VerifyOtpRequest{KeyId: "otp-seed", Mode: "HOTP", Otp: "1", Window: 99})
	wantCode(t, err, codes.InvalidArgument)
	_, err = pb.NewThreeDSServiceClient(env.Conn("3ds-server")).GenerateOtp(ctx, &pb.GenerateOtpRequest{KeyId: "otp-seed", Mode: "HOTP"})
	wantCode(t, err, codes.PermissionDenied)

	// The codes never reach the audit log's free-text fields (the numeric
	// ones, times and serials, could hold six digits by chance).
	evs := events(t, env, &pb.EventFilter{KeyName: "otp-seed"})
	if len(evs) < 10 {
		t.Fatalf("%d OTP events audited", len(evs))
	}
	for _, ev := range evs {
		text := strings.Join([]string{ev.Detail, ev.Error, ev.Algorithm, ev.Sid, ev.CorrelationId}, "|")
		for _, code := range append(codes6, got.Otp) {
			if strings.Contains(text, code) {
				t.Fatalf("an OTP is in the audit event %v", ev)
			}
		}
	}
}
