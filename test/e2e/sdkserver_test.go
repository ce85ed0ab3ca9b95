package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// Issue 15.5: the DS verifies a Split-SDK server's signed content against
// the DS CAs in its config; the check is granted by the config and audited.
func TestVerifySdkServerSignedContent(t *testing.T) {
	dsCA := must(devca.New("Test DS CA"))
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ds-cas.pem")
	if err := os.WriteFile(caFile, devca.CertPEM(dsCA.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	env := harness.Start(t, harness.Options{ExtraConfig: fmt.Sprintf("threeds: {sdk_server: {ca_file: %q, max_skew: 2m, principals: [%q]}}\n",
		caFile, harness.ARN("ds"))})
	ctx := context.Background()

	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	leaf := must(dsCA.Sign("Split-SDK server 1", &key.PublicKey))
	sign := func(ca *devca.CA, ts time.Time) string {
		cert := leaf
		if ca != dsCA {
			cert = must(ca.Sign("Split-SDK server 1", &key.PublicKey))
		}
		s := must(jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
			(&jose.SignerOptions{}).WithHeader("x5c", []string{base64.StdEncoding.EncodeToString(cert.Raw)})))
		payload := fmt.Sprintf(`{"sdkReferenceNumber":"3DS_LOA_SDK_PPFU_020100_00007","sdkSignatureTimestamp":%q,"sdkTransID":"b2385523-a66c-4907-ac3c-91848e8c0067","splitSdkServerID":"split-1"}`,
			ts.UTC().Format("20060102150405"))
		return must(must(s.Sign([]byte(payload))).CompactSerialize())
	}

	ds := pb.NewThreeDSServiceClient(env.Conn("ds"))
	got, err := ds.VerifySdkServerSignedContent(ctx, &pb.VerifySdkServerSignedContentRequest{Jws: sign(dsCA, time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	if got.SplitSdkServerId != "split-1" || got.SdkTransId != "b2385523-a66c-4907-ac3c-91848e8c0067" ||
		got.SdkReferenceNumber != "3DS_LOA_SDK_PPFU_020100_00007" || !strings.Contains(got.SignerSubject, "Split-SDK server 1") {
		t.Fatalf("answer: %v", got)
	}
	for name, tc := range map[string]struct{ jws, says string }{
		"unknown CA":    {sign(must(devca.New("Rogue CA")), time.Now()), "trusted DS CA"},
		"stale":         {sign(dsCA, time.Now().Add(-10*time.Minute)), "skew of 2m0s"},
		"not a JWS":     {"x.y", "3 parts"},
		"oversized JWS": {strings.Repeat("A", 16001), "at most 16000"},
	} {
		_, err := ds.VerifySdkServerSignedContent(ctx, &pb.VerifySdkServerSignedContentRequest{Jws: tc.jws})
		wantCode(t, err, codes.InvalidArgument)
		if !strings.Contains(status.Convert(err).Message(), tc.says) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Not a configured verifier: refused before anything is checked.
	_, err = pb.NewThreeDSServiceClient(env.Conn("acs")).VerifySdkServerSignedContent(ctx, &pb.VerifySdkServerSignedContentRequest{Jws: sign(dsCA, time.Now())})
	wantCode(t, err, codes.PermissionDenied)

	evs := events(t, env, &pb.EventFilter{Action: "keygate:VerifySdkServerSignedContent"})
	if len(evs) != 6 || evs[0].Result != "OK" || !strings.HasPrefix(evs[0].Detail, "splitSdkServerID split-1") {
		t.Fatalf("audit: %d events, first %v", len(evs), evs[0])
	}
}
