package threeds

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/pkcs11"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/test/softhsm"
)

// hsmKeys are keys made inside a fresh SoftHSM2 token.
type hsmKeys struct {
	es256, ps256, seal, dsEC, dsRSA backends.Key
}

func newHSMKeys(t testing.TB) hsmKeys {
	t.Helper()
	tok := softhsm.New(t)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := pkcs11.Open(ctx, "hsm", pkcs11.Config{Module: tok.Module, TokenLabel: tok.Label, PINFile: pinFile})
	if err != nil {
		t.Fatalf("pkcs11.Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	mk := func(spec keys.Spec, usage keys.Usage, label string) backends.Key {
		id, err := b.CreateKey(ctx, backends.CreateRequest{Spec: spec, Usage: usage, Label: label})
		if err != nil {
			t.Fatalf("CreateKey %s: %v", label, err)
		}
		k, err := b.Open(ctx, id, spec, usage)
		if err != nil {
			t.Fatalf("Open %s: %v", label, err)
		}
		return k
	}
	return hsmKeys{
		es256: mk(keys.ECCNISTP256, keys.SignVerify, "acs-signing/v1"),
		ps256: mk(keys.RSA2048, keys.SignVerify, "acs-signing-rsa/v1"),
		seal:  mk(keys.SymmetricDefault, keys.EncryptDecrypt, "3ds-sessions/v1"),
		dsEC:  mk(keys.ECCNISTP256, keys.KeyAgreement, "ds-ec/v1"),
		dsRSA: mk(keys.RSA2048, keys.EncryptDecrypt, "ds-rsa/v1"),
	}
}

// The whole flow with every key in SoftHSM2: sessions signed by ES256 and
// PS256 token keys and sealed by a token AES key, and sdkEncData under
// token DS keys.
func TestSoftHSM(t *testing.T) {
	k := newHSMKeys(t)
	ctx := context.Background()
	for _, signer := range []backends.Key{k.es256, k.ps256} {
		for _, enc := range []Enc{A128CBCHS256, A128GCM} {
			t.Run(fmt.Sprintf("%s/%s", signer.Spec(), enc), func(t *testing.T) {
				skipGCMSessionUnderFIPSOnly(t, enc)
				store := &MemoryStore{}
				root, chain := testCA(t, signer.Public())
				sdk := newTestSDK(t, testTransID, enc)
				acs := &Sessions{Store: store, SealKey: k.seal}
				created, err := acs.Create(ctx, testOwner, signer, chain, SessionRequest{AcsTransID: testTransID, AcsURL: testURL,
					SDKEphemPubKey: sdk.jwk, SDKReferenceNumber: testRef, Enc: enc})
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				sdk.acceptARes(t, created.ACSSignedContent, root, testRef)
				replica := &Sessions{Store: store, SealKey: k.seal}
				for _, s := range []*Sessions{acs, replica} {
					if _, err := s.DecryptCReq(ctx, testOwner, created.SessionID, sdk.nextCReq(t)); err != nil {
						t.Fatalf("DecryptCReq: %v", err)
					}
					jwe, err := s.EncryptCRes(ctx, testOwner, created.SessionID, []byte(`{"messageType":"CRes"}`))
					if err != nil {
						t.Fatalf("EncryptCRes: %v", err)
					}
					sdk.openCRes(t, jwe)
				}
			})
		}
	}

	const dsID, deviceData = "A000000802", `{"DV":"1.0","DD":{"C001":"Android"}}`
	for _, enc := range []jose.ContentEncryption{jose.A128CBC_HS256, jose.A128GCM} {
		jwe := joseEncrypt(t, jose.RSA_OAEP_256, enc, k.dsRSA.Public().(*rsa.PublicKey), deviceData)
		if pt, _, err := DecryptSdkEncData(ctx, k.dsRSA, jwe, SdkEncOptions{DSID: dsID}); err != nil || string(pt) != deviceData {
			t.Fatalf("RSA-OAEP-256 %s on SoftHSM2: %q, %v", enc, pt, err)
		}
	}
	// A corrupted wrapped CEK on the token gives the one decryption error:
	// the backend reports the failed unwrap as InvalidArgument, and that
	// becomes a random CEK, not an oracle.
	bad := strings.Split(joseEncrypt(t, jose.RSA_OAEP_256, jose.A128GCM, k.dsRSA.Public().(*rsa.PublicKey), deviceData), ".")
	bad[1] = flipBit(bad[1])
	_, _, err := DecryptSdkEncData(ctx, k.dsRSA, strings.Join(bad, "."), SdkEncOptions{DSID: dsID})
	wantKind(t, err, kgerr.InvalidArgument, DecryptFailedMsg)

	// A session sealed on the token opens only under its own id.
	sess := testSession(A128GCM)
	blob, err := SealSession(ctx, k.seal, sess)
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenSession(ctx, k.seal, "BBBBBBBBBBBBBBBBBBBBBB", blob, Counters{})
	wantKind(t, err, kgerr.Internal, "does not open")

	jwe := sdkECDHESGCM(t, k.dsEC, dsID, deviceData)
	if pt, _, err := DecryptSdkEncData(ctx, k.dsEC, jwe, SdkEncOptions{DSID: dsID}); err != nil || string(pt) != deviceData {
		t.Fatalf("ECDH-ES A128GCM on SoftHSM2: %q, %v", pt, err)
	}
}

// sdkECDHESGCM encrypts device data as an SDK does for an EC DS key:
// ECDH-ES with the 3DS KDF (PartyVInfo = DS ID) and A128GCM under CEK[0:16].
// The KDF is spelled out here rather than taken from this package.
func sdkECDHESGCM(t testing.TB, ds backends.Key, dsID, pt string) string {
	t.Helper()
	dsPub, err := ds.Public().(interface {
		ECDH() (*ecdh.PublicKey, error)
	}).ECDH()
	if err != nil {
		t.Fatal(err)
	}
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	z, _ := eph.ECDH(dsPub)
	cek := sdkKDF(z, dsID)
	e := base64.RawURLEncoding.EncodeToString
	p := eph.PublicKey().Bytes()
	hdr := e([]byte(fmt.Sprintf(`{"alg":"ECDH-ES","epk":{"kty":"EC","crv":"P-256","x":"%s","y":"%s"},"enc":"A128GCM"}`, e(p[1:33]), e(p[33:]))))
	iv := make([]byte, 12)
	rand.Read(iv)
	ct, tag := counterpartyGCMSeal(t, cek[:16], iv, []byte(pt), []byte(hdr))
	return hdr + ".." + e(iv) + "." + e(ct) + "." + e(tag)
}

// BenchmarkCreateSessionSoftHSM is session creation with the signing and
// sealing keys in SoftHSM2 and the memory store; "/parallel16" runs 16
// goroutines at once.
func BenchmarkCreateSessionSoftHSM(b *testing.B) {
	k := newHSMKeys(b)
	ctx := context.Background()
	for _, signer := range []backends.Key{k.es256, k.ps256} {
		_, chain := testCA(b, signer.Public())
		sdk := newTestSDK(b, testTransID, A128GCM)
		req := SessionRequest{AcsTransID: testTransID, AcsURL: testURL, SDKEphemPubKey: sdk.jwk, SDKReferenceNumber: testRef, Enc: A128GCM}
		m := &Sessions{Store: &MemoryStore{}, SealKey: k.seal}
		name := map[keys.Spec]string{keys.ECCNISTP256: "ES256", keys.RSA2048: "PS256"}[signer.Spec()]
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := m.Create(ctx, testOwner, signer, chain, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel16", func(b *testing.B) {
			b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0))) // 16 goroutines in all
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := m.Create(ctx, testOwner, signer, chain, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
