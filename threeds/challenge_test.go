package threeds

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

const (
	testOwner   = "arn:aws:iam::111122223333:role/acs"
	testTransID = "d7c1ee99-9478-44a6-b1f2-391e29c6b340"
	testRef     = "3DS_LOA_SDK_PPFU_020100_00007"
	testURL     = "https://acs.example.com/challenge?x=1&y=2"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// fixture is one ACS with a signing key, a sealing key and a store, and
// an SDK that has received the ARes.
type fixture struct {
	acs   *Sessions
	clk   *clock
	sdk   *testSDK
	id    string
	store *MemoryStore
}

func newFixture(t *testing.T, enc Enc, signer *memKey) *fixture {
	t.Helper()
	skipGCMSessionUnderFIPSOnly(t, enc)
	clk := &clock{t: time.Now()}
	store := &MemoryStore{}
	acs := &Sessions{Store: store, SealKey: newAESKey("seal-1"), Now: clk.now}
	root, chain := testCA(t, signer.Public())
	sdk := newTestSDK(t, testTransID, enc)
	created, err := acs.Create(context.Background(), testOwner, signer, chain, SessionRequest{
		AcsTransID: testTransID, AcsURL: testURL, SDKEphemPubKey: sdk.jwk, SDKReferenceNumber: testRef, Enc: enc,
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	sdk.acceptARes(t, created.ACSSignedContent, root, testRef)
	return &fixture{acs: acs, clk: clk, sdk: sdk, id: created.SessionID, store: store}
}

// A full challenge, both enc values, ES256 and PS256 signers, three rounds,
// the later rounds served by a second replica (same store and sealing key,
// fresh process state), as after a restart.
func TestChallengeRoundTrip(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(randReader{}, 2048)
	signers := map[string]*memKey{
		"ES256": newECKey(t, keys.SignVerify),
		"PS256": {id: "rsa", spec: keys.RSA2048, usage: keys.SignVerify, rsa: rsaKey},
	}
	for _, enc := range []Enc{A128CBCHS256, A128GCM} {
		for name, signer := range signers {
			t.Run(string(enc)+"/"+name, func(t *testing.T) {
				f := newFixture(t, enc, signer)
				ctx := context.Background()
				for round := range 3 {
					acs := f.acs
					if round > 0 {
						acs = &Sessions{Store: f.store, SealKey: f.acs.SealKey, Now: f.clk.now}
					}
					creq, err := acs.DecryptCReq(ctx, testOwner, f.id, f.sdk.nextCReq(t))
					if err != nil {
						t.Fatalf("round %d DecryptCReq: %v", round, err)
					}
					if !strings.Contains(string(creq), fmt.Sprintf(`"sdkCounterStoA":"%03d"`, round)) {
						t.Fatalf("CReq = %s", creq)
					}
					cres := fmt.Sprintf(`{"acsTransID":%q,"messageType":"CRes","challengeCompletionInd":"N","round":%d}`, testTransID, round)
					jwe, err := acs.EncryptCRes(ctx, testOwner, f.id, []byte(cres))
					if err != nil {
						t.Fatalf("round %d EncryptCRes: %v", round, err)
					}
					if got := f.sdk.openCRes(t, jwe); got["round"] != float64(round) {
						t.Fatalf("CRes = %v", got)
					}
				}
			})
		}
	}
}

// randReader is crypto/rand for rsa.GenerateKey in a composite literal.
type randReader struct{}

func (randReader) Read(p []byte) (int, error) { return cryptoRandRead(p) }

func wantKind(t *testing.T, err error, kind kgerr.Kind, msgPart string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v %q", kind, msgPart)
	}
	if kgerr.KindOf(err) != kind || !strings.Contains(kgerr.Message(err), msgPart) {
		t.Fatalf("got %v %q, want %v containing %q", kgerr.KindOf(err), kgerr.Message(err), kind, msgPart)
	}
}

func TestCReqRefused(t *testing.T) {
	for _, enc := range []Enc{A128CBCHS256, A128GCM} {
		t.Run(string(enc), func(t *testing.T) {
			f := newFixture(t, enc, newECKey(t, keys.SignVerify))
			ctx := context.Background()
			first := f.sdk.nextCReq(t)
			if _, err := f.acs.DecryptCReq(ctx, testOwner, f.id, first); err != nil {
				t.Fatal(err)
			}
			// The same CReq again: replay.
			_, err := f.acs.DecryptCReq(ctx, testOwner, f.id, first)
			wantKind(t, err, kgerr.InvalidArgument, "replayed")
			// Counter 2 while 1 is expected: out of order.
			wantKind(t, decryptErr(f, f.sdk.creq(t, 2)), kgerr.InvalidArgument, "out of order")

			good := f.sdk.creq(t, 1)
			parts := strings.Split(good, ".")
			wantKind(t, decryptErr(f, strings.Join(parts[:4], ".")), kgerr.InvalidArgument, "5 parts")
			short := append([]string(nil), parts...)
			short[3] = dropBytes(short[3], 3)
			wantKind(t, decryptErr(f, strings.Join(short, ".")), kgerr.InvalidArgument, DecryptFailedMsg)
			short[3], short[4] = parts[3], dropBytes(parts[4], 2) // a 14-byte tag
			wantKind(t, decryptErr(f, strings.Join(short, ".")), kgerr.InvalidArgument, DecryptFailedMsg)
			for i := 2; i <= 4; i++ { // IV (CBC), ciphertext, tag: one bit each
				if i == 2 && enc == A128GCM {
					continue // the GCM IV is checked against the counter first
				}
				bad := append([]string(nil), parts...)
				bad[i] = flipBit(bad[i])
				wantKind(t, decryptErr(f, strings.Join(bad, ".")), kgerr.InvalidArgument, DecryptFailedMsg)
			}
			wantKind(t, decryptErr(f, withHeader(parts, `{"alg":"dir","enc":"`+string(enc)+`","kid":"other"}`)), kgerr.InvalidArgument, "kid")
			wantKind(t, decryptErr(f, withHeader(parts, `{"alg":"dir","enc":"A256GCM","kid":"`+testTransID+`"}`)), kgerr.InvalidArgument, "enc")
			wantKind(t, decryptErr(f, withHeader(parts, `{"alg":"RSA-OAEP-256","enc":"`+string(enc)+`","kid":"`+testTransID+`"}`)), kgerr.InvalidArgument, "alg")
			wantKind(t, decryptErr(f, withHeader(parts, `{"alg":"dir","alg":"dir","enc":"`+string(enc)+`","kid":"`+testTransID+`"}`)), kgerr.InvalidArgument, "more than once")
			wantKind(t, decryptErr(f, withHeader(parts, `{"alg":"dir","zip":"DEF","enc":"`+string(enc)+`","kid":"`+testTransID+`"}`)), kgerr.InvalidArgument, "zip")
			// A header change the checks accept still breaks the tag (AAD).
			wantKind(t, decryptErr(f, withHeader(parts, `{"kid":"`+testTransID+`","alg":"dir","enc":"`+string(enc)+`"}`)), kgerr.InvalidArgument, DecryptFailedMsg)
			if enc == A128GCM {
				bad := append([]string(nil), parts...)
				bad[2] = b64(append(make([]byte, 11), 1)[:11]) // 11-byte IV
				wantKind(t, decryptErr(f, strings.Join(bad, ".")), kgerr.InvalidArgument, "IV")
				bad[2] = b64([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
				wantKind(t, decryptErr(f, strings.Join(bad, ".")), kgerr.InvalidArgument, "IV")
			}
			// After all that, the good CReq 001 still goes through.
			if _, err := f.acs.DecryptCReq(ctx, testOwner, f.id, good); err != nil {
				t.Fatalf("good CReq after refusals: %v", err)
			}
			f.clk.t = f.clk.t.Add(DefaultTTL)
			wantKind(t, decryptErr(f, f.sdk.creq(t, 2)), kgerr.FailedPrecondition, "expired")
			_, err = f.acs.EncryptCRes(ctx, testOwner, f.id, []byte(`{}`))
			wantKind(t, err, kgerr.FailedPrecondition, "expired")
		})
	}
}

func decryptErr(f *fixture, jwe string) error {
	_, err := f.acs.DecryptCReq(context.Background(), testOwner, f.id, jwe)
	return err
}

func withHeader(parts []string, hdr string) string {
	p := append([]string(nil), parts...)
	p[0] = base64.RawURLEncoding.EncodeToString([]byte(hdr))
	return strings.Join(p, ".")
}

func dropBytes(part string, n int) string {
	b, _ := base64.RawURLEncoding.DecodeString(part)
	return base64.RawURLEncoding.EncodeToString(b[:len(b)-n])
}

func flipBit(part string) string {
	b, _ := base64.RawURLEncoding.DecodeString(part)
	b[len(b)/2] ^= 0x01
	return base64.RawURLEncoding.EncodeToString(b)
}

// Two replicas receive the same CReq at once: exactly one accepts it.
func TestConcurrentReplay(t *testing.T) {
	f := newFixture(t, A128GCM, newECKey(t, keys.SignVerify))
	creq := f.sdk.nextCReq(t)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		replica := &Sessions{Store: f.store, SealKey: f.acs.SealKey, Now: f.clk.now}
		wg.Go(func() { _, errs[i] = replica.DecryptCReq(context.Background(), testOwner, f.id, creq) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if kgerr.KindOf(err) != kgerr.InvalidArgument || !strings.Contains(kgerr.Message(err), "replayed") {
			t.Fatalf("loser got %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d replicas accepted the same CReq", ok)
	}
}

// racingStore lets another replica's update land just before the first
// Update it sees.
type racingStore struct {
	*MemoryStore
	race func(c Counters) Counters
	sess Session // to MAC the other replica's counters as it would
}

func (r *racingStore) Update(ctx context.Context, id string, old, next Counters, mac []byte) error {
	if r.race != nil {
		other := r.race(old)
		r.race = nil
		if err := r.MemoryStore.Update(ctx, id, old, other, countersMAC(r.sess, other)); err != nil {
			return err
		}
	}
	return r.MemoryStore.Update(ctx, id, old, next, mac)
}

// A CRes committed by another replica while a CReq is being decrypted does
// not make the CReq look replayed; another CReq with the same counter does.
func TestCommitRace(t *testing.T) {
	f := newFixture(t, A128GCM, newECKey(t, keys.SignVerify))
	ctx := context.Background()
	sess, err := f.acs.load(ctx, testOwner, f.id)
	if err != nil {
		t.Fatal(err)
	}
	rs := &racingStore{MemoryStore: f.store, sess: sess}
	acs := &Sessions{Store: rs, SealKey: f.acs.SealKey, Now: f.clk.now}

	rs.race = func(c Counters) Counters { c.ACSCounterAtoS++; return c }
	if _, err := acs.DecryptCReq(ctx, testOwner, f.id, f.sdk.nextCReq(t)); err != nil {
		t.Fatalf("CReq racing a CRes: %v", err)
	}
	rec, _ := f.store.Get(ctx, f.id)
	if rec.Counters != (Counters{SDKCounterStoA: 1, ACSCounterAtoS: 1}) {
		t.Fatalf("counters = %+v", rec.Counters)
	}

	rs.race = func(c Counters) Counters { c.SDKCounterStoA++; return c }
	_, err = acs.DecryptCReq(ctx, testOwner, f.id, f.sdk.nextCReq(t))
	wantKind(t, err, kgerr.InvalidArgument, "replayed")

	rs.race = func(c Counters) Counters { c.ACSCounterAtoS++; return c }
	_, err = acs.EncryptCRes(ctx, testOwner, f.id, []byte(`{}`))
	wantKind(t, err, kgerr.FailedPrecondition, "same time")
	rs.race = func(c Counters) Counters { c.SDKCounterStoA++; return c }
	if _, err := acs.EncryptCRes(ctx, testOwner, f.id, []byte(`{}`)); err != nil {
		t.Fatalf("CRes racing a CReq: %v", err)
	}
	if rec, _ = f.store.Get(ctx, f.id); rec.Counters != (Counters{SDKCounterStoA: 3, ACSCounterAtoS: 3}) {
		t.Fatalf("counters = %+v", rec.Counters)
	}
}

// A session made before the clock went back does not live past its
// lifetime by the jump: once it has more than MaxTTL (and the slack
// between replicas) left, it is refused as expired. A jump forward just
// ends it early.
func TestSessionClockJumps(t *testing.T) {
	ctx := context.Background()
	for _, jump := range []time.Duration{-ClockSlack / 2, -2 * DefaultTTL, 2 * DefaultTTL} {
		f := newFixture(t, A128CBCHS256, newECKey(t, keys.SignVerify))
		f.clk.t = f.clk.t.Add(jump)
		_, err := f.acs.DecryptCReq(ctx, testOwner, f.id, f.sdk.creq(t, 0))
		if jump > -ClockSlack {
			if jump < 0 && err != nil {
				t.Fatalf("clock back by %s, within the slack: %v", -jump, err)
			}
			if jump > 0 {
				wantKind(t, err, kgerr.FailedPrecondition, "expired")
			}
			continue
		}
		wantKind(t, err, kgerr.FailedPrecondition, "the clock went back")
	}
}
