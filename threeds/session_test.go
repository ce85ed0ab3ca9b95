package threeds

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

func testSession(enc Enc) Session {
	cek := make([]byte, 32)
	for i := range cek {
		cek[i] = byte(i)
	}
	return Session{ID: "AAAAAAAAAAAAAAAAAAAAAA", Owner: testOwner, AcsTransID: testTransID, Enc: enc, CEK: cek, Expiry: time.Now().Add(time.Minute)}
}

// The last counter value works once; nothing wraps to 000.
func TestCountersNeverWrap(t *testing.T) {
	for _, enc := range []Enc{A128CBCHS256, A128GCM} {
		if enc == A128GCM && fips140.Enforced() {
			continue // TestFIPSOnlyRefusesA128GCMSessions
		}
		s := testSession(enc)
		s.SDKCounterStoA, s.ACSCounterAtoS = MaxCounter, MaxCounter
		sdk := &testSDK{acsTransID: testTransID, enc: enc, cek: s.CEK}
		_, s2, err := DecryptCReq(s, sdk.creq(t, MaxCounter), time.Now())
		if err != nil || s2.SDKCounterStoA != MaxCounter+1 || s.SDKCounterStoA != MaxCounter {
			t.Fatalf("%s: CReq 255: %v (counter now %d)", enc, err, s2.SDKCounterStoA)
		}
		_, _, err = DecryptCReq(s2, sdk.creq(t, 0), time.Now())
		wantKind(t, err, kgerr.FailedPrecondition, "never wrap")
		_, s3, err := EncryptCRes(s, []byte(`{}`), time.Now())
		if err != nil || s3.ACSCounterAtoS != MaxCounter+1 {
			t.Fatalf("%s: CRes 255: %v", enc, err)
		}
		_, _, err = EncryptCRes(s3, []byte(`{}`), time.Now())
		wantKind(t, err, kgerr.FailedPrecondition, "never wrap")
	}
}

// A128CBC-HS256 with a valid tag over bad padding gets the same error as a
// bad tag: there is no padding oracle.
func TestCBCBadPaddingIndistinguishable(t *testing.T) {
	s := testSession(A128CBCHS256)
	hdr := b64([]byte(`{"alg":"dir","enc":"A128CBC-HS256","kid":"` + testTransID + `"}`))
	iv := make([]byte, 16)
	pt := bytes.Repeat([]byte{0x11}, 32) // last byte 0x11 > 16: invalid PKCS#7
	blk, _ := aes.NewCipher(s.CEK[16:])
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(ct, pt)
	tag := cbcTag(s.CEK[:16], []byte(hdr), iv, ct)
	_, _, err := DecryptCReq(s, hdr+".."+b64(iv)+"."+b64(ct)+"."+b64(tag), time.Now())
	wantKind(t, err, kgerr.InvalidArgument, DecryptFailedMsg)
	if kgerr.Message(err) != DecryptFailedMsg {
		t.Fatalf("message %q is not exactly the fixed one", kgerr.Message(err))
	}
}

func TestEncryptCResChecks(t *testing.T) {
	skipGCMSessionUnderFIPSOnly(t, A128GCM)
	s := testSession(A128GCM)
	s.ACSCounterAtoS = 7
	now := time.Now()
	_, _, err := EncryptCRes(s, []byte(`{"acsCounterAtoS":"006"}`), now)
	wantKind(t, err, kgerr.InvalidArgument, "acsCounterAtoS")
	_, _, err = EncryptCRes(s, []byte(`{"acsTransID":"someone-else"}`), now)
	wantKind(t, err, kgerr.InvalidArgument, "acsTransID")
	_, _, err = EncryptCRes(s, []byte(`["CRes"]`), now)
	wantKind(t, err, kgerr.InvalidArgument, "JSON object")
	_, _, err = EncryptCRes(s, []byte(`{"a":1,"a":2}`), now)
	wantKind(t, err, kgerr.InvalidArgument, "more than once")

	sdk := &testSDK{acsTransID: testTransID, enc: A128GCM, cek: s.CEK, acsCounter: 7}
	jwe, next, err := EncryptCRes(s, []byte(" {\n \"messageType\":\"CRes\" }"), now)
	if err != nil || next.ACSCounterAtoS != 8 || s.ACSCounterAtoS != 7 {
		t.Fatalf("EncryptCRes: %v", err)
	}
	if m := sdk.openCRes(t, jwe); m["messageType"] != "CRes" {
		t.Fatalf("CRes = %v", m)
	}
	// An explicit, correct counter is kept as is.
	jwe, _, err = EncryptCRes(next, []byte(`{"acsCounterAtoS":"008"}`), now)
	if err != nil {
		t.Fatal(err)
	}
	sdk.openCRes(t, jwe)
}

func TestInsertMember(t *testing.T) {
	for in, want := range map[string]string{
		`{}`:               `{"c":"001"}`,
		` { } `:            ` {"c":"001" } `,
		`{"a":1}`:          `{"c":"001","a":1}`,
		"{\n  \"a\": 1\n}": "{\"c\":\"001\",\n  \"a\": 1\n}",
	} {
		if got := string(insertMember([]byte(in), "c", "001")); got != want {
			t.Errorf("insertMember(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCreateSessionRefuses(t *testing.T) {
	ctx := context.Background()
	signer := newECKey(t, keys.SignVerify)
	_, chain := testCA(t, signer.Public())
	sdk := newTestSDK(t, testTransID, A128CBCHS256)
	base := SessionRequest{AcsTransID: testTransID, AcsURL: testURL, SDKEphemPubKey: sdk.jwk, SDKReferenceNumber: testRef}
	now := time.Now()
	try := func(mod func(*SessionRequest), k *memKey, ch [][]byte, kind kgerr.Kind, want string) {
		t.Helper()
		r := base
		mod(&r)
		_, err := CreateSession(ctx, k, ch, r, now)
		wantKind(t, err, kind, want)
	}
	same := func(*SessionRequest) {}
	try(func(r *SessionRequest) { r.SDKEphemPubKey = []byte(`{"kty":"EC"}`) }, signer, chain, kgerr.InvalidArgument, "sdkEphemPubKey")
	try(func(r *SessionRequest) { r.AcsTransID = `x"y` }, signer, chain, kgerr.InvalidArgument, "acsTransID")
	try(func(r *SessionRequest) { r.AcsURL = "ftp://acs" }, signer, chain, kgerr.InvalidArgument, "acsURL")
	try(func(r *SessionRequest) { r.SDKReferenceNumber = "" }, signer, chain, kgerr.InvalidArgument, "sdkReferenceNumber")
	try(func(r *SessionRequest) { r.Enc = "A256GCM" }, signer, chain, kgerr.InvalidArgument, "enc")
	try(same, signer, nil, kgerr.FailedPrecondition, "no certificate chain")
	other := newECKey(t, keys.SignVerify)
	try(same, other, chain, kgerr.FailedPrecondition, "leaf certificate")
	try(same, &memKey{spec: keys.ECCNISTP256, usage: keys.KeyAgreement, ec: signer.ec}, chain, kgerr.FailedPrecondition, "SIGN_VERIFY")
	confused := *signer
	confused.badSig = true
	try(same, &confused, chain, kgerr.Internal, "does not verify")

	// The SDK key is checked before anything else: even with no signer.
	r := base
	r.SDKEphemPubKey = []byte(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`)
	if _, err := CreateSession(ctx, nil, nil, r, now); kgerr.KindOf(err) != kgerr.InvalidArgument {
		t.Fatalf("bad SDK key with nil signer: %v", err)
	}
	ns, err := CreateSession(ctx, signer, chain, base, now)
	if err != nil || ns.Session.Enc != A128CBCHS256 || !ns.Session.Expiry.Equal(now.Add(DefaultTTL)) || len(ns.Session.ID) != 22 {
		t.Fatalf("defaults: %+v %v", ns, err)
	}
}

func TestSealSession(t *testing.T) {
	ctx := context.Background()
	key := newAESKey("seal")
	s := testSession(A128GCM)
	s.Expiry = time.Unix(1700000000, 123)
	blob, err := SealSession(ctx, key, s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, s.CEK) {
		t.Fatal("CEK in the clear in the sealed blob")
	}
	got, err := OpenSession(ctx, key, s.ID, blob, Counters{3, 4})
	if err != nil || !bytes.Equal(got.CEK, s.CEK) || !got.Expiry.Equal(s.Expiry) || got.SDKCounterStoA != 3 || got.ACSCounterAtoS != 4 || got.AcsTransID != s.AcsTransID {
		t.Fatalf("OpenSession = %+v, %v", got, err)
	}
	_, err = OpenSession(ctx, key, "BBBBBBBBBBBBBBBBBBBBBB", blob, Counters{})
	wantKind(t, err, kgerr.Internal, "does not open")
	_, err = OpenSession(ctx, newAESKey("other"), s.ID, blob, Counters{})
	wantKind(t, err, kgerr.Internal, "does not open")
	_, err = SealSession(ctx, newECKey(t, keys.SignVerify), s)
	wantKind(t, err, kgerr.FailedPrecondition, "SYMMETRIC_DEFAULT")
}

// A session sealed before the sealing key rotated opens through OpenKey.
func TestSessionsSealKeyRotation(t *testing.T) {
	f := newFixture(t, A128CBCHS256, newECKey(t, keys.SignVerify))
	old := f.acs.SealKey
	rotated := &Sessions{Store: f.store, SealKey: newAESKey("seal-2"), Now: f.clk.now}
	_, err := rotated.DecryptCReq(context.Background(), testOwner, f.id, f.sdk.creq(t, 0))
	wantKind(t, err, kgerr.FailedPrecondition, "sealed by a key")
	rotated.OpenKey = func(_ context.Context, id string) (backends.Key, error) {
		if id != old.ID() {
			t.Fatalf("asked for key %q", id)
		}
		return old, nil
	}
	if _, err := rotated.DecryptCReq(context.Background(), testOwner, f.id, f.sdk.nextCReq(t)); err != nil {
		t.Fatal(err)
	}
	_, err = rotated.DecryptCReq(context.Background(), testOwner, "short", "x")
	wantKind(t, err, kgerr.InvalidArgument, "session_id")
	_, err = rotated.DecryptCReq(context.Background(), testOwner, strings.Repeat("A", 22), f.sdk.creq(t, 1))
	wantKind(t, err, kgerr.NotFound, "no such 3DS challenge session")
}
