package threeds

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
)

// spyKey wraps a backend key and remembers the buffers that crossed it
// (plaintexts given to Encrypt, results of Decrypt and DeriveSharedSecret)
// and how many Decrypts were made.
type spyKey struct {
	backends.Key
	mu       sync.Mutex
	decrypts int
	buffers  [][]byte
}

func (k *spyKey) keep(b []byte) {
	k.mu.Lock()
	k.buffers = append(k.buffers, b)
	k.mu.Unlock()
}

func (k *spyKey) Encrypt(ctx context.Context, alg keys.EncryptionAlgorithm, pt []byte, ec map[string]string) ([]byte, error) {
	k.keep(pt)
	return k.Key.Encrypt(ctx, alg, pt, ec)
}

func (k *spyKey) Decrypt(ctx context.Context, alg keys.EncryptionAlgorithm, ct []byte, ec map[string]string) ([]byte, error) {
	k.mu.Lock()
	k.decrypts++
	k.mu.Unlock()
	pt, err := k.Key.Decrypt(ctx, alg, ct, ec)
	k.keep(pt)
	return pt, err
}

func (k *spyKey) DeriveSharedSecret(ctx context.Context, peer *ecdh.PublicKey) ([]byte, error) {
	z, err := k.Key.DeriveSharedSecret(ctx, peer)
	k.keep(z)
	return z, err
}

// allCleared fails if a secret buffer that crossed the key is not zero.
func (k *spyKey) allCleared(t *testing.T, what string) {
	t.Helper()
	if len(k.buffers) == 0 {
		t.Fatalf("%s: no buffer crossed the key", what)
	}
	for _, b := range k.buffers {
		for _, c := range b {
			if c != 0 {
				t.Fatalf("%s: a secret buffer was not cleared after use", what)
			}
		}
	}
	k.buffers = nil
}

// Issue 11, defect 5: the caller cannot set any lifetime.
func TestSessionTTLClamped(t *testing.T) {
	signer := newECKey(t, keys.SignVerify)
	_, chain := testCA(t, signer.Public())
	sdk := newTestSDK(t, testTransID, A128GCM)
	clk := &clock{t: time.Unix(1800000000, 0)}
	acs := &Sessions{Store: &MemoryStore{}, SealKey: newAESKey("seal"), MaxTTL: 10 * time.Minute, Now: clk.now}
	req := SessionRequest{AcsTransID: testTransID, AcsURL: testURL, SDKEphemPubKey: sdk.jwk, SDKReferenceNumber: testRef}
	ctx := context.Background()

	req.TTL = 4e9 * time.Second // what ttl_seconds=4e9 asked for: a session until 2153
	_, err := acs.Create(ctx, testOwner, signer, chain, req)
	wantKind(t, err, kgerr.InvalidArgument, "ttl_seconds must be at most 600")
	for ttl, want := range map[time.Duration]time.Duration{0: 10 * time.Minute, time.Minute: time.Minute, 10 * time.Minute: 10 * time.Minute} {
		req.TTL = ttl
		c, err := acs.Create(ctx, testOwner, signer, chain, req)
		if err != nil || !c.Expiry.Equal(clk.t.Add(want)) {
			t.Fatalf("ttl %v: expiry %v, %v; want now+%v", ttl, c.GetExpiry(), err, want)
		}
	}
}

func (c *Created) GetExpiry() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.Expiry
}

// Issue 11, defect 5: one check of a session id, the same everywhere.
func TestCheckSessionID(t *testing.T) {
	for _, id := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "az09-_AZaz09-_AZaz09-_", newSessionID()} {
		if err := CheckSessionID(id); err != nil {
			t.Fatalf("%q: %v", id, err)
		}
	}
	for _, id := range []string{"", "short", strings.Repeat("A", 21), strings.Repeat("A", 23), strings.Repeat("A", 64),
		"AAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAAA\n", "AAAAAAAAAAAAAAAAAAAAA+", "AAAAAAAAAAAAAAAAAAAA\u00e9"} {
		wantKind(t, CheckSessionID(id), kgerr.InvalidArgument, "session_id must be 22 characters")
	}
}

// From reading (issue 11): a session is bound to the principal that
// created it; another one driving it learns nothing more than for an
// unknown id.
func TestSessionBoundToOwner(t *testing.T) {
	f := newFixture(t, A128CBCHS256, newECKey(t, keys.SignVerify))
	ctx := context.Background()
	const other = "arn:aws:iam::111122223333:role/3ds-server"
	creq := f.sdk.nextCReq(t)
	_, errOther := f.acs.DecryptCReq(ctx, other, f.id, creq)
	_, errUnknown := f.acs.DecryptCReq(ctx, other, newSessionID(), creq)
	wantKind(t, errOther, kgerr.NotFound, "no such 3DS challenge session")
	if kgerr.Message(errOther) != kgerr.Message(errUnknown) {
		t.Fatalf("another's session %q, an unknown one %q: they must not differ", kgerr.Message(errOther), kgerr.Message(errUnknown))
	}
	_, err := f.acs.EncryptCRes(ctx, other, f.id, []byte(`{}`))
	wantKind(t, err, kgerr.NotFound, "no such 3DS challenge session")
	// The owner's CReq was not consumed by the refused attempts.
	if _, err := f.acs.DecryptCReq(ctx, testOwner, f.id, creq); err != nil {
		t.Fatalf("owner: %v", err)
	}
}

// From reading (issue 11): a database writer resetting acs_counter to
// make keygate reuse an A128GCM IV is refused.
func TestCountersAuthenticated(t *testing.T) {
	f := newFixture(t, A128GCM, newECKey(t, keys.SignVerify))
	ctx := context.Background()
	if _, err := f.acs.EncryptCRes(ctx, testOwner, f.id, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	f.store.mu.Lock()
	rec := f.store.recs[f.id]
	good := rec
	rec.Counters.ACSCounterAtoS = 0 // the writer's reset: counter 000 again, IV FF×11‖00 again
	f.store.recs[f.id] = rec
	f.store.mu.Unlock()
	_, err := f.acs.EncryptCRes(ctx, testOwner, f.id, []byte(`{}`))
	wantKind(t, err, kgerr.Internal, "counters were altered")
	_, err = f.acs.DecryptCReq(ctx, testOwner, f.id, f.sdk.creq(t, 0))
	wantKind(t, err, kgerr.Internal, "counters were altered")

	// A MAC moved from another session does not fit either.
	g := newFixture(t, A128GCM, newECKey(t, keys.SignVerify))
	g.store.mu.Lock()
	other := g.store.recs[g.id]
	other.CountersMAC = good.CountersMAC
	other.Counters = good.Counters
	g.store.recs[g.id] = other
	g.store.mu.Unlock()
	_, err = g.acs.EncryptCRes(ctx, testOwner, g.id, []byte(`{}`))
	wantKind(t, err, kgerr.Internal, "counters were altered")

	// The honest record still works.
	f.store.mu.Lock()
	f.store.recs[f.id] = good
	f.store.mu.Unlock()
	if _, err := f.acs.EncryptCRes(ctx, testOwner, f.id, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
}

// From reading (issue 11): a CReq that is not even a dir JWE costs no
// backend Decrypt (billed on KMS).
func TestCReqCheckedBeforeUnseal(t *testing.T) {
	f := newFixture(t, A128GCM, newECKey(t, keys.SignVerify))
	spy := &spyKey{Key: f.acs.SealKey}
	acs := &Sessions{Store: f.store, SealKey: spy, Now: f.clk.now}
	ctx := context.Background()
	good := f.sdk.creq(t, 0)
	parts := strings.Split(good, ".")
	for name, jwe := range map[string]string{
		"garbage":   "garbage",
		"not b64":   "!!.." + parts[2] + "." + parts[3] + "." + parts[4],
		"alg":       withHeader(parts, `{"alg":"RSA-OAEP-256","enc":"A128GCM","kid":"x"}`),
		"enc":       withHeader(parts, `{"alg":"dir","enc":"A256GCM","kid":"x"}`),
		"no kid":    withHeader(parts, `{"alg":"dir","enc":"A128GCM"}`),
		"zip":       withHeader(parts, `{"alg":"dir","enc":"A128GCM","kid":"x","zip":"DEF"}`),
		"enc key":   parts[0] + ".AAAA." + parts[2] + "." + parts[3] + "." + parts[4],
		"oversized": parts[0] + ".." + parts[2] + "." + strings.Repeat("A", MaxCReqJWE) + "." + parts[4],
	} {
		if _, err := acs.DecryptCReq(ctx, testOwner, f.id, jwe); kgerr.KindOf(err) != kgerr.InvalidArgument {
			t.Fatalf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if spy.decrypts != 0 {
		t.Fatalf("%d backend Decrypts for CReqs refused on their shape", spy.decrypts)
	}
	if _, err := acs.DecryptCReq(ctx, testOwner, f.id, good); err != nil || spy.decrypts != 1 {
		t.Fatalf("good CReq: %v after %d Decrypts", err, spy.decrypts)
	}
}

// From reading (issue 11): the sealed session plaintext, Z and the CEKs
// are cleared once used.
func TestSecretsCleared(t *testing.T) {
	ctx := context.Background()

	// The sealed state given to Encrypt, and the one Decrypt returns.
	f := newFixture(t, A128CBCHS256, newECKey(t, keys.SignVerify))
	seal := &spyKey{Key: f.acs.SealKey}
	acs := &Sessions{Store: f.store, SealKey: seal, Now: f.clk.now}
	if _, err := acs.DecryptCReq(ctx, testOwner, f.id, f.sdk.nextCReq(t)); err != nil {
		t.Fatal(err)
	}
	seal.allCleared(t, "opened session")
	if _, err := SealSession(ctx, seal, testSession(A128GCM)); err != nil {
		t.Fatal(err)
	}
	seal.allCleared(t, "sealed session")

	// Z from the backend's ECDH, and the CEK the backend unwraps.
	v, _ := loadVectors(t)
	ec := &spyKey{Key: vectorKey(t, v.DSEC, keys.KeyAgreement)}
	dsPub := jwkKey(t, v.DSEC)
	for _, enc := range []Enc{A128CBCHS256, A128GCM} {
		jwe := sdkECDHES(t, dsPub, "A000000802", enc, `{"DV":"1.0"}`, "ECDH-ES")
		if _, _, err := DecryptSdkEncData(ctx, ec, jwe, SdkEncOptions{DSID: "A000000802"}); err != nil {
			t.Fatal(err)
		}
		ec.allCleared(t, "Z of "+string(enc))
	}
	rsaPriv, _ := rsa.GenerateKey(rand.Reader, 2048)
	rk := &spyKey{Key: &memKey{id: "rsa", spec: keys.RSA2048, usage: keys.EncryptDecrypt, rsa: rsaPriv}}
	jwe := joseEncrypt(t, jose.RSA_OAEP_256, jose.A128GCM, &rsaPriv.PublicKey, `{"DV":"1.0"}`)
	if _, _, err := DecryptSdkEncData(ctx, rk, jwe, SdkEncOptions{}); err != nil {
		t.Fatal(err)
	}
	rk.allCleared(t, "unwrapped CEK")
}

// A chain parsed once is not parsed again, but every call still checks
// that its leaf certifies the key, and a chain that differs in any
// certificate is parsed (and refused) on its own.
func TestCheckChainCached(t *testing.T) {
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key := &memKey{id: "k1", spec: keys.ECCNISTP256, usage: keys.SignVerify, ec: k1}
	other := &memKey{id: "k2", spec: keys.ECCNISTP256, usage: keys.SignVerify, ec: k2}
	_, chain := testCA(t, &k1.PublicKey)
	first, err := checkChain(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := checkChain(chain, key); err != nil || again != first {
		t.Fatalf("second check: %v (same leaf: %v)", err, again == first)
	}
	if _, err := checkChain(chain, other); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("a cached chain for another key: %v, want FailedPrecondition", err)
	}
	broken := [][]byte{chain[0], append([]byte{0x30}, chain[1][1:len(chain[1])-1]...)}
	if _, err := checkChain(broken, key); kgerr.KindOf(err) != kgerr.FailedPrecondition {
		t.Fatalf("a chain with a broken intermediate: %v, want FailedPrecondition", err)
	}
}
