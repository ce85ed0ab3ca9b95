package threeds

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// Under GODEBUG=fips140=only, Go's FIPS 140-3 module refuses AES-GCM
// sealing under an IV the caller chooses. keygate then refuses A128GCM
// sessions (their CRes IV is fixed by EMV 3DS) and still decrypts A128GCM
// (GCM decryption is approved under any IV). The tests' SDK and DS are
// other parties' code, not keygate's, so they seal outside the enforcement.

// asCounterparty runs f, the SDK's or DS's side of a test, without FIPS
// 140-only enforcement.
func asCounterparty(f func()) { fips140.WithoutEnforcement(f) }

// skipGCMSessionUnderFIPSOnly skips a test of an A128GCM session in FIPS
// 140-only mode, where TestFIPSOnlyRefusesA128GCMSessions checks the
// refusal instead.
func skipGCMSessionUnderFIPSOnly(t testing.TB, enc Enc) {
	t.Helper()
	if enc == A128GCM && fips140.Enforced() {
		t.Skip("A128GCM sessions are refused in FIPS 140-only mode (TestFIPSOnlyRefusesA128GCMSessions)")
	}
}

func TestFIPSOnlyRefusesA128GCMSessions(t *testing.T) {
	if !fips140.Enforced() {
		t.Skip("needs GODEBUG=fips140=only; in other modes A128GCM is tested by TestChallengeRoundTrip")
	}
	named := func(what string, err error) {
		t.Helper()
		if kgerr.KindOf(err) != kgerr.FailedPrecondition || !strings.HasPrefix(kgerr.Message(err), "A128GCM: ") || !strings.Contains(err.Error(), "FIPS 140-only mode") {
			t.Fatalf("%s: %v (%s), want FailedPrecondition naming A128GCM and FIPS 140-only mode", what, err, kgerr.KindOf(err))
		}
	}

	// A new session is refused before any work.
	sdk := newTestSDK(t, testTransID, A128GCM)
	signer := newECKey(t, keys.SignVerify)
	_, chain := testCA(t, signer.Public())
	acs := &Sessions{Store: &MemoryStore{}, SealKey: newAESKey("seal-1")}
	_, err := acs.Create(context.Background(), testOwner, signer, chain, SessionRequest{
		AcsTransID: testTransID, AcsURL: testURL, SDKEphemPubKey: sdk.jwk, SDKReferenceNumber: testRef, Enc: A128GCM,
	})
	named("Create", err)

	// A session made before (by a keygated not in this mode) decrypts its
	// CReq, and its CRes is refused with the same error, not a panic.
	s := testSession(A128GCM)
	sdk.cek = s.CEK
	var creq string
	asCounterparty(func() { creq = sdk.creq(t, 0) })
	now := s.Expiry.Add(-time.Minute)
	if _, _, err := DecryptCReq(s, creq, now); err != nil {
		t.Fatalf("DecryptCReq under A128GCM: %v", err)
	}
	_, _, err = EncryptCRes(s, []byte(`{"messageType":"CRes"}`), now)
	named("EncryptCRes", err)
}

// counterpartyGCMSeal is an SDK's AES-GCM encryption under an IV it
// chooses: iv ‖ ciphertext ‖ tag split as a JWE's parts.
func counterpartyGCMSeal(t testing.TB, key, iv, pt, aad []byte) (ciphertext, tag []byte) {
	t.Helper()
	blk, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	asCounterparty(func() {
		var g cipher.AEAD
		if g, err = cipher.NewGCM(blk); err == nil {
			out = g.Seal(nil, iv, pt, aad)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out[:len(out)-16], out[len(out)-16:]
}
