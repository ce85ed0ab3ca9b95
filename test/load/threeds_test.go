package load

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"testing"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// BenchmarkCreateAcsSession measures CreateAcsSession (ES256 on SoftHSM2:
// SDK key validation, ECDH, the 3DS KDF, the JWS signature in the token,
// the session sealed in the token and stored, the audit event) over gRPC
// and mTLS against a keygated process, at concurrency 1 and 16.
func BenchmarkCreateAcsSession(b *testing.B) {
	env := harness.Start(b, harness.Options{})
	acsKey(b, env)
	env.CreateKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	ctx := context.Background()
	p := env.StartProcess(nil)
	tds := pb.NewThreeDSServiceClient(env.ProcessConn(p, "acs"))
	sdk, _ := ecdh.P256().GenerateKey(rand.Reader)
	jwk := harness.SDKJWK(sdk)
	req := &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
		AcsUrl: "https://acs.example/challenge", SdkEphemPubKey: jwk, SdkReferenceNumber: "3DS_LOA_SDK_PPFU_020100_00007"}
	for _, c := range []int{1, 16} {
		b.Run(fmt.Sprintf("c=%d/grpc-mtls-audit", c), func(b *testing.B) {
			run(b, c, func() error {
				_, err := tds.CreateAcsSession(ctx, req)
				return err
			})
			b.ReportMetric(float64(p.PeakRSS())/(1<<20), "server-peak-MB")
		})
	}
}
