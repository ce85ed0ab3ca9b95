package threeds

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// The parsers see attacker bytes: whatever comes in, they must answer with
// a *kgerr.Error, never panic, and never accept a changed message.

func FuzzParsePeerKey(f *testing.F) {
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ","y":"e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck"}`))
	f.Add([]byte(`{"kty":"EC","kty":"RSA"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, jwk []byte) {
		pub, err := ParsePeerKey(jwk, "k")
		if err != nil && kgerr.KindOf(err) != kgerr.InvalidArgument {
			t.Fatalf("kind %v", kgerr.KindOf(err))
		}
		if err == nil && len(pub.Bytes()) != 65 {
			t.Fatal("accepted a key that is not P-256")
		}
	})
}

func FuzzDecryptCReq(f *testing.F) {
	for _, enc := range []Enc{A128CBCHS256, A128GCM} {
		s := testSession(enc)
		sdk := &testSDK{acsTransID: testTransID, enc: enc, cek: s.CEK}
		f.Add(string(enc), sdk.creq(f, 0))
	}
	f.Add("A128GCM", "a.b.c.d.e")
	f.Add("A128GCM", "....")
	f.Fuzz(func(t *testing.T, enc, jwe string) {
		if !Enc(enc).Valid() {
			return
		}
		s := testSession(Enc(enc))
		s.Expiry = time.Now().Add(time.Hour)
		pt, next, err := DecryptCReq(s, jwe, time.Now())
		if err != nil {
			if k := kgerr.KindOf(err); k != kgerr.InvalidArgument {
				t.Fatalf("kind %v: %v", k, err)
			}
			return
		}
		// Only the seeds (the SDK's CReq 000) are authentic under this CEK.
		if next.SDKCounterStoA != 1 || !strings.Contains(string(pt), `"sdkCounterStoA":"000"`) ||
			!strings.Contains(string(pt), testTransID) {
			t.Fatalf("accepted %q: %s", jwe, pt)
		}
	})
}

func FuzzDecryptSdkEncData(f *testing.F) {
	_, m := loadVectors(f)
	for _, ex := range m.SDKEncData {
		f.Add(ex.JWE)
	}
	v, _ := loadVectors(f)
	key := vectorKey(f, v.DSEC, keys.KeyAgreement)
	f.Fuzz(func(t *testing.T, jwe string) {
		_, _, err := DecryptSdkEncData(context.Background(), key, jwe, SdkEncOptions{DSID: v.DSID})
		if err != nil && kgerr.KindOf(err) != kgerr.InvalidArgument && kgerr.KindOf(err) != kgerr.FailedPrecondition {
			t.Fatalf("kind %v: %v", kgerr.KindOf(err), err)
		}
	})
}
