package server

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/fips140"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/devca"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// challengeEnv is a server with an ES256 ACS key (with its chain) and the
// session key, and one open A128GCM session as the SDK sees it.
type challengeEnv struct {
	*testEnv
	tds pb.ThreeDSServiceClient
	*sdkSession
}

// sdkSession is the SDK's side of one A128GCM challenge session.
type sdkSession struct {
	id  string
	gcm cipher.AEAD // SDK→ACS, CEK[0:16]
}

const testTransID = "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"

func startChallenge(t testing.TB, adjust func(*testEnv, *Config)) *challengeEnv {
	if fips140.Enforced() {
		// The test SDK seals its CReqs with A128GCM under the 3DS fixed IV,
		// which fips140=only refuses (threeds: TestFIPSOnlyRefusesA128GCMSessions).
		t.Skip("A128GCM challenges are refused in fips140=only mode")
	}
	e := startEnvWith(t, "", adjust, Options{})
	ctx := context.Background()
	pol := policyDoc(map[string][]string{arn("acs"): {"kms:Sign", "kms:GetPublicKey", "keygate:CreateAcsSession",
		"keygate:DecryptChallengeRequest", "keygate:EncryptChallengeResponse"}})
	e.createKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", pol)
	e.createKey("3ds-sessions", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", pol)
	pub, err := e.crypto("acs").GetPublicKey(ctx, &pb.GetPublicKeyRequest{KeyId: "acs-signing"})
	must(t, err)
	key, err := x509.ParsePKIXPublicKey(pub.PublicKey)
	must(t, err)
	cert, err := e.ca.Sign("ACS", key)
	must(t, err)
	_, err = e.admin("admin").ImportCertificate(ctx, &pb.ImportCertificateRequest{KeyId: "acs-signing",
		ChainPem: string(devca.CertPEM(cert)) + string(devca.CertPEM(e.ca.Cert))})
	must(t, err)
	ce := &challengeEnv{testEnv: e, tds: pb.NewThreeDSServiceClient(e.as("acs"))}
	ss, err := ce.open()
	must(t, err)
	ce.sdkSession = ss
	return ce
}

// sdkRef is the SDK Reference Number, the KDF's PartyVInfo.
const sdkRef = "3DS_LOA_SDK_PPFU_020100_00007"

// open makes a session as the SDK and the ACS do: CreateAcsSession, then
// the SDK's ECDH and 3DS Concat KDF.
func (ce *challengeEnv) open() (*sdkSession, error) {
	sdk, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	pt := sdk.PublicKey().Bytes()
	b64 := base64.RawURLEncoding
	resp, err := ce.tds.CreateAcsSession(context.Background(), &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: testTransID,
		AcsUrl: "https://acs.example/challenge", SdkReferenceNumber: sdkRef, Enc: "A128GCM",
		SdkEphemPubKey: fmt.Appendf(nil, `{"kty":"EC","crv":"P-256","x":"%s","y":"%s"}`, b64.EncodeToString(pt[1:33]), b64.EncodeToString(pt[33:]))})
	if err != nil {
		return nil, err
	}
	var jwk struct{ X, Y string }
	if err := json.Unmarshal(resp.AcsEphemPubKey, &jwk); err != nil {
		return nil, err
	}
	x, _ := b64.DecodeString(jwk.X)
	y, _ := b64.DecodeString(jwk.Y)
	acs, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, err
	}
	z, err := sdk.ECDH(acs)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte{0, 0, 0, 1})
	h.Write(z)
	h.Write(make([]byte, 8))
	binary.Write(h, binary.BigEndian, uint32(len(sdkRef)))
	h.Write([]byte(sdkRef))
	h.Write([]byte{0, 0, 1, 0})
	block, err := aes.NewCipher(h.Sum(nil)[:16])
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sdkSession{id: resp.SessionId, gcm: gcm}, nil
}

// creq is the SDK's CReq with counter n.
func (ss *sdkSession) creq(n int) string {
	b64 := base64.RawURLEncoding
	hdr := b64.EncodeToString([]byte(`{"alg":"dir","enc":"A128GCM","kid":"` + testTransID + `"}`))
	iv := make([]byte, 12)
	iv[11] = byte(n)
	msg := fmt.Appendf(nil, `{"acsTransID":"%s","messageType":"CReq","messageVersion":"2.2.0","sdkCounterStoA":"%03d"}`, testTransID, n)
	sealed := ss.gcm.Seal(nil, iv, msg, []byte(hdr))
	k := len(sealed) - 16
	return hdr + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(sealed[:k]) + "." + b64.EncodeToString(sealed[k:])
}

// events counts the log's events of action by result.
func (ce *challengeEnv) events(action string) map[string]int {
	resp, err := pb.NewAuditServiceClient(ce.as("admin")).ListEvents(context.Background(),
		&pb.ListEventsRequest{Filter: &pb.EventFilter{Action: action}, PageSize: 1000})
	must(ce.t, err)
	n := map[string]int{}
	for _, e := range resp.Events {
		n[e.Result]++
	}
	return n
}

// The same CReq sent eight times at once: the counter advances commit in
// one batch with their events, and exactly one is accepted; the seven
// replays are refused, nothing of theirs committed, each recorded as a
// failure.
func TestConcurrentCReqsOneCommits(t *testing.T) {
	ce := startChallenge(t, nil)
	jwe := ce.creq(0)
	var wg sync.WaitGroup
	codesSeen := make([]codes.Code, 8)
	for i := range codesSeen {
		wg.Go(func() {
			_, err := ce.tds.DecryptChallengeRequest(context.Background(), &pb.DecryptChallengeRequestRequest{SessionId: ce.id, Jwe: jwe})
			codesSeen[i] = status.Code(err)
		})
	}
	wg.Wait()
	ok := 0
	for _, c := range codesSeen {
		switch c {
		case codes.OK:
			ok++
		case codes.InvalidArgument:
		default:
			t.Fatalf("a concurrent CReq got %v", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 8 identical CReqs accepted, want 1", ok)
	}
	if n := ce.events("keygate:DecryptChallengeRequest"); n["OK"] != 1 || n["InvalidArgument"] != 7 {
		t.Fatalf("events by result: %v, want 1 OK and 7 InvalidArgument", n)
	}
	// The session goes on at counter 1, CReqs and CRes racing each other
	// (each direction's counter advances; the other's moving is retried
	// inside the batch's transaction).
	for n := 1; n < 20; n++ {
		var creqErr, cresErr error
		wg.Go(func() {
			_, creqErr = ce.tds.DecryptChallengeRequest(context.Background(), &pb.DecryptChallengeRequestRequest{SessionId: ce.id, Jwe: ce.creq(n)})
		})
		wg.Go(func() {
			_, cresErr = ce.tds.EncryptChallengeResponse(context.Background(), &pb.EncryptChallengeResponseRequest{SessionId: ce.id,
				Cres: []byte(`{"acsTransID":"` + testTransID + `","messageType":"CRes","transStatus":"Y"}`)})
		})
		wg.Wait()
		if creqErr != nil || cresErr != nil {
			t.Fatalf("round %d: CReq %v, CRes %v", n, creqErr, cresErr)
		}
	}
}

// Without the audit log the session writes commit on their own.
func TestChallengeWithoutAuditLog(t *testing.T) {
	ce := startChallenge(t, func(_ *testEnv, c *Config) { c.Audit.Disabled = true })
	for n := range 3 {
		if _, err := ce.tds.DecryptChallengeRequest(context.Background(), &pb.DecryptChallengeRequestRequest{SessionId: ce.id, Jwe: ce.creq(n)}); err != nil {
			t.Fatalf("CReq %d: %v", n, err)
		}
	}
	_, err := ce.tds.DecryptChallengeRequest(context.Background(), &pb.DecryptChallengeRequestRequest{SessionId: ce.id, Jwe: ce.creq(2)})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("replayed CReq: %v, want InvalidArgument", err)
	}
}
