package load

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

var b64 = base64.RawURLEncoding

const (
	acsTransID = "8a880dc0-d2d2-4067-bcb1-b08d1690b26e"
	sdkRef     = "3DS_LOA_SDK_PPFU_020100_00007"
)

// acsKey makes acs-signing, an ES256 key with a certificate chain, as
// CreateAcsSession needs.
func acsKey(b *testing.B, env *harness.Env) {
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	env.CertifyKey("acs-signing", "bench ACS")
}

// session is the SDK's side of one challenge session (A128GCM), with the
// next counter each way.
type session struct {
	id       string
	cek      []byte
	creq     int // next sdkCounterStoA
	cres     int // CRes sent so far
	gcm      cipher.AEAD
	protect  string
	template string
}

// sessionPool makes sessions as a 3DS SDK would and hands them to the
// challenge callers; sessions are made before a timed run.
type sessionPool struct {
	tds   pb.ThreeDSServiceClient
	mu    sync.Mutex
	ready []*session
}

// create opens one session; the SDK's ephemeral key is fixed (the
// benchmark measures the ACS side).
func (p *sessionPool) create(ctx context.Context) (*session, error) {
	sdk, err := sdkKey()
	if err != nil {
		return nil, err
	}
	resp, err := p.tds.CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{KeyId: "acs-signing", AcsTransId: acsTransID,
		AcsUrl: "https://acs.example/challenge", SdkEphemPubKey: harness.SDKJWK(sdk), SdkReferenceNumber: sdkRef, Enc: "A128GCM"})
	if err != nil {
		return nil, err
	}
	cek, err := harness.SDKAgree(sdk, resp.AcsEphemPubKey, sdkRef)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek[:16])
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	hdr := b64.EncodeToString([]byte(fmt.Sprintf(`{"alg":"dir","enc":"A128GCM","kid":"%s"}`, acsTransID)))
	return &session{id: resp.SessionId, cek: cek, gcm: gcm, protect: hdr,
		template: `{"acsTransID":"` + acsTransID + `","messageType":"CReq","messageVersion":"2.2.0","sdkCounterStoA":"%03d","sdkTransID":"b2385523-a66c-4907-ac3c-91848e8c0067"}`}, nil
}

var (
	sdkOnce sync.Once
	sdkPriv *ecdh.PrivateKey
	sdkErr  error
)

func sdkKey() (*ecdh.PrivateKey, error) {
	sdkOnce.Do(func() { sdkPriv, sdkErr = ecdh.P256().GenerateKey(rand.Reader) })
	return sdkPriv, sdkErr
}

// creqJWE encrypts the session's next CReq.
func (s *session) creqJWE() string {
	iv := make([]byte, 12)
	iv[11] = byte(s.creq)
	sealed := s.gcm.Seal(nil, iv, fmt.Appendf(nil, s.template, s.creq), []byte(s.protect))
	s.creq++
	n := len(sealed) - 16
	return s.protect + ".." + b64.EncodeToString(iv) + "." + b64.EncodeToString(sealed[:n]) + "." + b64.EncodeToString(sealed[n:])
}

// fill makes sessions until n are ready.
func (p *sessionPool) fill(ctx context.Context, n int) error {
	for {
		p.mu.Lock()
		have := len(p.ready)
		p.mu.Unlock()
		if have >= n {
			return nil
		}
		s, err := p.create(ctx)
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.ready = append(p.ready, s)
		p.mu.Unlock()
	}
}

// take hands out a ready session, or makes one if none is left (the
// benchmark sizes the pool so that this is rare).
func (p *sessionPool) take(ctx context.Context) (*session, error) {
	p.mu.Lock()
	if n := len(p.ready); n > 0 {
		s := p.ready[n-1]
		p.ready = p.ready[:n-1]
		p.mu.Unlock()
		return s, nil
	}
	p.mu.Unlock()
	return p.create(ctx)
}

// creqWorker makes callers that each decrypt CReqs on a session of their
// own, counter by counter, taking a fresh session when one is used up.
func (p *sessionPool) creqWorker(ctx context.Context) func() func() error {
	return func() func() error {
		var s *session
		return func() error {
			if s == nil || s.creq > 255 {
				var err error
				if s, err = p.take(ctx); err != nil {
					return err
				}
			}
			_, err := p.tds.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: s.id, Jwe: s.creqJWE()})
			return err
		}
	}
}

// cresWorker makes callers that each encrypt CRes on a session of their own.
func (p *sessionPool) cresWorker(ctx context.Context) func() func() error {
	cres := []byte(`{"acsTransID":"` + acsTransID + `","challengeCompletionInd":"N","messageType":"CRes","messageVersion":"2.2.0","sdkTransID":"b2385523-a66c-4907-ac3c-91848e8c0067"}`)
	return func() func() error {
		var s *session
		return func() error {
			if s == nil || s.cres > 255 {
				var err error
				if s, err = p.take(ctx); err != nil {
					return err
				}
			}
			s.cres++
			_, err := p.tds.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: s.id, Cres: cres})
			return err
		}
	}
}
