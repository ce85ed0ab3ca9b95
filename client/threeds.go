package client

import (
	"context"
	"encoding/json"
	"time"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// AcsSession is what the ACS needs from CreateAcsSession for the ARes and
// the challenge that follows; the session key itself stays in keygate.
type AcsSession struct {
	ID               string
	AcsSignedContent string          // JWS compact, for the ARes
	AcsEphemPubKey   json.RawMessage // JWK
	Expires          time.Time
	KeyVersion       uint32 // the ACS signing key's version that signed
}

// AcsSessionParams are the AReq's values CreateAcsSession needs.
type AcsSessionParams struct {
	KeyID              string          // the ACS signing key
	AcsTransID         string          // becomes the CReq/CRes JWE kid
	AcsURL             string          // the challenge URL in acsSignedContent
	SDKEphemPubKey     json.RawMessage // the AReq's sdkEphemPubKey, exactly as received
	SDKReferenceNumber string          // PartyVInfo of the Concat KDF
	Enc                string          // A128CBC-HS256 (default) or A128GCM
	TTL                time.Duration   // 0: the server's session_ttl
}

// CreateAcsSession agrees the challenge session key with the SDK and signs
// acsSignedContent.
func (c *Client) CreateAcsSession(ctx context.Context, p AcsSessionParams) (*AcsSession, error) {
	resp, err := c.ThreeDS.CreateAcsSession(ctx, &pb.CreateAcsSessionRequest{
		KeyId: p.KeyID, AcsTransId: p.AcsTransID, AcsUrl: p.AcsURL, SdkEphemPubKey: p.SDKEphemPubKey,
		SdkReferenceNumber: p.SDKReferenceNumber, Enc: p.Enc, TtlSeconds: uint32(p.TTL / time.Second),
	})
	if err != nil {
		return nil, err
	}
	return &AcsSession{ID: resp.SessionId, AcsSignedContent: resp.AcsSignedContent,
		AcsEphemPubKey: resp.AcsEphemPubKey, Expires: resp.ExpireTime.AsTime(), KeyVersion: resp.KeyVersion}, nil
}

// DecryptCReq decrypts a CReq JWE from the SDK and returns the CReq JSON.
// It advances the session's SDK counter, so it is never retried.
func (c *Client) DecryptCReq(ctx context.Context, sessionID, jwe string) ([]byte, error) {
	resp, err := c.ThreeDS.DecryptChallengeRequest(ctx, &pb.DecryptChallengeRequestRequest{SessionId: sessionID, Jwe: jwe})
	if err != nil {
		return nil, err
	}
	return resp.Creq, nil
}

// EncryptCRes encrypts the CRes JSON for the SDK and returns the JWE
// compact serialization. It advances the session's ACS counter.
func (c *Client) EncryptCRes(ctx context.Context, sessionID string, cres []byte) (string, error) {
	resp, err := c.ThreeDS.EncryptChallengeResponse(ctx, &pb.EncryptChallengeResponseRequest{SessionId: sessionID, Cres: cres})
	if err != nil {
		return "", err
	}
	return resp.Jwe, nil
}

// DecryptSdkEncData decrypts the AReq's sdkEncData for the DS under keyID;
// dsID is the DS ID that EC DS keys use as the KDF's PartyVInfo (empty for
// RSA keys). It returns the device data JSON.
func (c *Client) DecryptSdkEncData(ctx context.Context, keyID, jwe, dsID string) ([]byte, error) {
	resp, err := c.ThreeDS.DecryptSdkEncData(ctx, &pb.DecryptSdkEncDataRequest{KeyId: keyID, Jwe: jwe, DsId: dsID})
	if err != nil {
		return nil, err
	}
	return resp.DeviceData, nil
}
