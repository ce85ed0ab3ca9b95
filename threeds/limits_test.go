package threeds

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// A 2.3.1 CRes with a 300,000-character acsHTML (and the largest
// messageExtension) round-trips to the independent SDK side in both enc
// modes; one byte more than MaxCRes is refused naming the spec.
func TestCResAt231Bound(t *testing.T) {
	for _, enc := range []Enc{A128CBCHS256, A128GCM} {
		t.Run(string(enc), func(t *testing.T) {
			f := newFixture(t, enc, newECKey(t, keys.SignVerify))
			ctx := context.Background()
			if _, err := f.acs.DecryptCReq(ctx, testOwner, f.id, f.sdk.nextCReq(t)); err != nil {
				t.Fatal(err)
			}
			head := fmt.Sprintf(`{"acsTransID":%q,"messageType":"CRes","acsUiType":"05","acsHTML":"%s","messageExtension":[{"data":"`,
				testTransID, strings.Repeat("A", MaxACSHTML))
			cres := head + strings.Repeat("B", MaxMessageExtension) + `"}]}`
			jwe, err := f.acs.EncryptCRes(ctx, testOwner, f.id, []byte(cres))
			if err != nil {
				t.Fatal(err)
			}
			if len(jwe) > MaxCResJWE {
				t.Fatalf("CRes JWE %d characters, over MaxCResJWE %d", len(jwe), MaxCResJWE)
			}
			if got := f.sdk.openCRes(t, jwe); len(got["acsHTML"].(string)) != MaxACSHTML {
				t.Fatal("acsHTML did not round-trip")
			}
			over := `{"acsHTML":"` + strings.Repeat("A", MaxCRes) + `"}`
			_, err = f.acs.EncryptCRes(ctx, testOwner, f.id, []byte(over))
			wantKind(t, err, kgerr.InvalidArgument, "EMV 3DS 2.3.1 allows at most")
		})
	}
}

// The bounds are each message's spec figures plus the JWE overhead.
func TestBoundsFromTheSpec(t *testing.T) {
	if MaxCRes < MaxACSHTML+MaxMessageExtension || MaxCResJWE < MaxCRes*4/3 || MaxCReqJWE < MaxMessageExtension*4/3 {
		t.Fatalf("bounds below the spec: CRes %d, CRes JWE %d, CReq JWE %d", MaxCRes, MaxCResJWE, MaxCReqJWE)
	}
	ctx := context.Background()
	v, _ := loadVectors(t)
	ds := vectorKey(t, v.DSEC, keys.KeyAgreement)
	_, _, err := DecryptSdkEncData(ctx, ds, strings.Repeat("A", MaxSdkEncData+1), SdkEncOptions{DSID: v.DSID})
	wantKind(t, err, kgerr.InvalidArgument, "64,000")
}

// acsSignedContent over 16,000 characters (a long x5c chain) is refused
// naming the limit, before the backend signs.
func TestACSSignedContentBound(t *testing.T) {
	signer := newECKey(t, keys.SignVerify)
	_, chain := testCA(t, signer.Public())
	sdk := newTestSDK(t, testTransID, A128GCM)
	req := SessionRequest{AcsTransID: testTransID, AcsURL: testURL, SDKEphemPubKey: sdk.jwk, SDKReferenceNumber: testRef}
	if _, err := CreateSession(context.Background(), signer, chain, req, time.Now()); err != nil {
		t.Fatal(err)
	}
	long := chain
	for len(strings.Join(b64All(long), "")) < MaxACSSignedContent {
		long = append(long, chain[1])
	}
	spy := &spySigner{memKey: signer}
	_, err := CreateSession(context.Background(), spy, long, req, time.Now())
	wantKind(t, err, kgerr.InvalidArgument, "at most 16000")
	if spy.signs != 0 {
		t.Fatal("signed before refusing the size")
	}
}

func b64All(ders [][]byte) []string {
	var out []string
	for _, d := range ders {
		out = append(out, b64(d))
	}
	return out
}

type spySigner struct {
	*memKey
	signs int
}

func (s *spySigner) Sign(ctx context.Context, alg keys.SigningAlgorithm, digest []byte) ([]byte, error) {
	s.signs++
	return s.memKey.Sign(ctx, alg, digest)
}
