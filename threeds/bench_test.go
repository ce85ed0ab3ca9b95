package threeds

import (
	"context"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/keygate/keygate/keys"
)

// BenchmarkCreateSession measures session creation with in-memory keys:
// SDK key validation, ephemeral key, ECDH, KDF, signing, self-verification.
// "/stored" adds sealing (AES-GCM test key) and the memory store.
func BenchmarkCreateSession(b *testing.B) {
	rsaPriv, _ := rsa.GenerateKey(randReader{}, 2048)
	for _, sc := range []struct {
		name string
		key  *memKey
	}{
		{"ES256", newECKey(b, keys.SignVerify)},
		{"PS256", &memKey{id: "rsa", spec: keys.RSA2048, usage: keys.SignVerify, rsa: rsaPriv}},
	} {
		_, chain := testCA(b, sc.key.Public())
		sdk := newTestSDK(b, testTransID, A128GCM)
		req := SessionRequest{AcsTransID: testTransID, AcsURL: testURL, SDKEphemPubKey: sdk.jwk, SDKReferenceNumber: testRef, Enc: A128GCM}
		ctx := context.Background()
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := CreateSession(ctx, sc.key, chain, req, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sc.name+"/stored", func(b *testing.B) {
			m := &Sessions{Store: &MemoryStore{}, SealKey: newAESKey("seal")}
			for b.Loop() {
				if _, err := m.Create(ctx, testOwner, sc.key, chain, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkChallengeMessage measures one CReq decryption plus one CRes
// encryption on an open session (no store, no sealing).
func BenchmarkChallengeMessage(b *testing.B) {
	for _, enc := range []Enc{A128CBCHS256, A128GCM} {
		b.Run(string(enc), func(b *testing.B) {
			s := testSession(enc)
			s.Expiry = time.Now().Add(time.Hour)
			sdk := &testSDK{acsTransID: testTransID, enc: enc, cek: s.CEK}
			creq := sdk.creq(b, 0)
			cres := []byte(`{"messageType":"CRes","acsTransID":"` + testTransID + `","challengeCompletionInd":"N"}`)
			for b.Loop() {
				if _, _, err := DecryptCReq(s, creq, time.Now()); err != nil {
					b.Fatal(err)
				}
				if _, _, err := EncryptCRes(s, cres, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
