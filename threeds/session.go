package threeds

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
)

// DefaultTTL is a challenge session's lifetime when the request sets none.
const DefaultTTL = 10 * time.Minute

// MaxCounter is the last counter value; 3DS counters never wrap.
const MaxCounter = 255

// Session is one challenge session between an ACS and a 3DS SDK. It is a
// value: the functions that use it return an updated copy and never change
// the one they were given, so a caller can compare-and-swap the counters.
// CEK is secret; a Session is kept sealed (SealSession) outside process
// memory.
type Session struct {
	ID         string    // random, 128 bits, unpadded base64url
	Owner      string    // the principal that created it; only it may use it
	AcsTransID string    // the JWE kid of every CReq and CRes
	Enc        Enc       // fixed for the session
	CEK        []byte    // 32 bytes from the 3DS Concat KDF
	Expiry     time.Time // after it every call is refused
	Counters
}

// Counters are a session's mutable state. Each is the next value to see or
// issue, 0 to 256; 256 means the direction is used up.
type Counters struct {
	SDKCounterStoA int // the sdkCounterStoA the next CReq must carry
	ACSCounterAtoS int // the acsCounterAtoS the next CRes gets
}

// SessionRequest is what an ACS sends to open a challenge session, taken
// from the AReq.
type SessionRequest struct {
	AcsTransID         string
	AcsURL             string
	SDKEphemPubKey     []byte // the AReq's sdkEphemPubKey JWK, exactly as received
	SDKReferenceNumber string
	Enc                Enc           // "" means A128CBC-HS256
	TTL                time.Duration // 0 means DefaultTTL
}

// NewSession is the result of CreateSession.
type NewSession struct {
	Session          Session
	ACSSignedContent string // JWS compact, for the ARes
	ACSEphemPubKey   []byte // JWK of the ACS ephemeral public key
}

// CreateSession validates req (the SDK key first, before anything else),
// makes a fresh ACS ephemeral P-256 key in process memory, derives the CEK
// with ECDH and KDF3DS (PartyVInfo = the SDK Reference Number), drops the
// ephemeral private key, and signs acsSignedContent with signer, whose
// certificate chain (DER, leaf first) is chain.
func CreateSession(ctx context.Context, signer backends.Key, chain [][]byte, req SessionRequest, now time.Time) (*NewSession, error) {
	sdkPub, err := ParsePeerKey(req.SDKEphemPubKey, "sdkEphemPubKey")
	if err != nil {
		return nil, err
	}
	if err := checkTransID(req.AcsTransID); err != nil {
		return nil, err
	}
	if err := checkACSURL(req.AcsURL); err != nil {
		return nil, err
	}
	if err := checkID(req.SDKReferenceNumber, "sdkReferenceNumber"); err != nil {
		return nil, err
	}
	enc := req.Enc
	if enc == "" {
		enc = A128CBCHS256
	}
	if !enc.Valid() {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "enc must be A128CBC-HS256 or A128GCM")
	}
	if enc == A128GCM {
		// Refused here, not at the first CRes, when this process may not
		// seal A128GCM (FIPS 140-only mode): such a session would be useless.
		if _, err := gcmSealer(make([]byte, 16)); err != nil {
			return nil, err
		}
	}
	ttl := req.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "ttl must not be negative")
	}
	alg, sigAlg, err := jwsAlgorithm(signer)
	if err != nil {
		return nil, err
	}
	leaf, err := checkChain(chain, signer)
	if err != nil {
		return nil, err
	}

	acsPub, cek, err := ephemeralAgreement(sdkPub, req.SDKReferenceNumber)
	if err != nil {
		return nil, err
	}
	jws, err := signContent(ctx, signer, alg, sigAlg, leaf, chain, req.AcsURL, acsPub, req.SDKEphemPubKey)
	if err != nil {
		return nil, err
	}
	return &NewSession{
		Session: Session{
			ID:         newSessionID(),
			AcsTransID: req.AcsTransID,
			Enc:        enc,
			CEK:        cek,
			Expiry:     now.Add(ttl),
		},
		ACSSignedContent: jws,
		ACSEphemPubKey:   PublicJWK(acsPub),
	}, nil
}

// ephemeralAgreement makes the ACS ephemeral key and derives the CEK. The
// private key never leaves this function and is garbage once it returns.
func ephemeralAgreement(sdkPub *ecdh.PublicKey, sdkRef string) (*ecdh.PublicKey, []byte, error) {
	ephem, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, kgerr.Wrap(kgerr.Internal, err, "could not generate the ACS ephemeral key")
	}
	cek, err := deriveSessionKey(ephem, sdkPub, sdkRef)
	return ephem.PublicKey(), cek, err
}

// deriveSessionKey is ECDH then KDF3DS with PartyVInfo = the SDK Reference
// Number (EMVCo worked sample 7).
func deriveSessionKey(acsPriv *ecdh.PrivateKey, sdkPub *ecdh.PublicKey, sdkRef string) ([]byte, error) {
	z, err := acsPriv.ECDH(sdkPub)
	if err != nil {
		return nil, kgerr.Wrap(kgerr.InvalidArgument, err, "sdkEphemPubKey: ECDH failed")
	}
	defer clear(z)
	return KDF3DS(z, sdkRef), nil
}

func newSessionID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return b64(b[:])
}

// checkTransID accepts an acsTransID: a UUID in EMV 3DS, here 1 to 36
// letters, digits and hyphens, so it can stand in a JWE kid unescaped.
func checkTransID(s string) error {
	if s == "" || len(s) > 36 {
		return kgerr.Errorf(kgerr.InvalidArgument, "acsTransID must be 1 to 36 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return kgerr.Errorf(kgerr.InvalidArgument, "acsTransID must hold only letters, digits and '-'")
		}
	}
	return nil
}
