package server

import (
	"context"
	"database/sql"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/threeds"
)

// threeDSService implements ThreeDSService. Challenge sessions are sealed
// under the configured session key and kept in the shared store; the
// session key's policy says who may run challenges
// (keygate:DecryptChallengeRequest, keygate:EncryptChallengeResponse).
type threeDSService struct {
	pb.UnimplementedThreeDSServiceServer
	s     *Server
	store *threeds.SQLStore
	trust threeds.SdkServerTrust // for VerifySdkServerSignedContent
	otp   threeds.OTPStore       // used HOTP counters and TOTP steps
	meta  *threeds.KeyMeta       // DS key kids, ACS chains by DS
	// cache keeps opened sessions: a challenge message costs no backend
	// Decrypt (the counters still come from store).
	cache *threeds.OpenCache
}

func (ts *threeDSService) CreateAcsSession(ctx context.Context, req *pb.CreateAcsSessionRequest) (*pb.CreateAcsSessionResponse, error) {
	c := callOf(ctx)
	v, h, k := c.version, c.handle, c.Key.Key
	if k.Spec != keys.ECCNISTP256 && !k.Spec.IsRSA() {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s; ACS signed content needs ECC_NIST_P256 (ES256) or RSA (PS256)", k.Name, k.Spec)
	}
	chain := v.CertChain
	if req.Ds != "" {
		var err error
		if chain, err = ts.meta.Chain(ctx, req.KeyId, v.Number, req.Ds); err != nil {
			return nil, err
		}
	}
	if len(chain) == 0 {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q version %d has no certificate chain; import one with `keygate keys import-cert`", req.KeyId, v.Number)
	}
	m, err := ts.sessions(ctx)
	if err != nil {
		return nil, err
	}
	created, err := m.Create(ctx, c.Principal.ARN, h, chain, threeds.SessionRequest{
		AcsTransID: req.AcsTransId, AcsURL: req.AcsUrl, SDKEphemPubKey: req.SdkEphemPubKey,
		SDKReferenceNumber: req.SdkReferenceNumber, Enc: threeds.Enc(req.Enc), TTL: ts.ttl(req.TtlSeconds),
	})
	if err != nil {
		return nil, err
	}
	c.Detail = "session " + created.SessionID
	if req.Ds != "" {
		c.Detail += ", chain for DS " + req.Ds
	}
	return &pb.CreateAcsSessionResponse{SessionId: created.SessionID, AcsSignedContent: created.ACSSignedContent,
		AcsEphemPubKey: created.ACSEphemPubKey, ExpireTime: timestamppb.New(created.Expiry), KeyVersion: v.Number}, nil
}

func (ts *threeDSService) DecryptChallengeRequest(ctx context.Context, req *pb.DecryptChallengeRequestRequest) (*pb.DecryptChallengeRequestResponse, error) {
	m, err := ts.challenge(ctx, req.SessionId)
	if err != nil {
		return nil, err
	}
	creq, err := m.DecryptCReq(ctx, callOf(ctx).Principal.ARN, req.SessionId, req.Jwe)
	if err != nil {
		return nil, err
	}
	return &pb.DecryptChallengeRequestResponse{Creq: creq}, nil
}

func (ts *threeDSService) EncryptChallengeResponse(ctx context.Context, req *pb.EncryptChallengeResponseRequest) (*pb.EncryptChallengeResponseResponse, error) {
	m, err := ts.challenge(ctx, req.SessionId)
	if err != nil {
		return nil, err
	}
	jwe, err := m.EncryptCRes(ctx, callOf(ctx).Principal.ARN, req.SessionId, req.Cres)
	if err != nil {
		return nil, err
	}
	return &pb.EncryptChallengeResponseResponse{Jwe: jwe}, nil
}

func (ts *threeDSService) DecryptSdkEncData(ctx context.Context, req *pb.DecryptSdkEncDataRequest) (*pb.DecryptSdkEncDataResponse, error) {
	c := callOf(ctx)
	v, h, k := c.version, c.handle, c.Key.Key
	if !(k.Usage == keys.EncryptDecrypt && k.Spec.IsRSA()) && !(k.Usage == keys.KeyAgreement && k.Spec == keys.ECCNISTP256) {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q is %s %s; sdkEncData needs an RSA ENCRYPT_DECRYPT or ECC_NIST_P256 KEY_AGREEMENT key", k.Name, k.Spec, k.Usage)
	}
	// The DS ID is the Concat KDF's PartyVInfo: ECDH-ES needs it, and
	// RSA-OAEP has no use for it.
	if len(req.DsId) > 64 || (k.Usage == keys.KeyAgreement && req.DsId == "") {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "ds_id must be 1 to 64 characters for an EC DS key (and is unused with RSA)")
	}
	dd, form, err := threeds.DecryptSdkEncData(ctx, h, req.Jwe,
		threeds.SdkEncOptions{DSID: req.DsId, AllowDirEPK: ts.s.cfg.ThreeDS.AcceptDirEPK})
	if form != "" {
		c.Detail = "sdkEncData form " + string(form)
	}
	if kid, _ := threeds.SdkEncKid(req.Jwe); kid != "" && kid == c.kid {
		c.Detail += ", kid " + kid
	}
	if err != nil {
		return nil, err
	}
	return &pb.DecryptSdkEncDataResponse{DeviceData: dd, KeyVersion: v.Number, KeyId: k.Name}, nil
}

// VerifySdkServerSignedContent is the DS's check of a Split-SDK server's
// signed content. It is about no key: the config's
// threeds.sdk_server.principals (and admins) may call it.
func (ts *threeDSService) VerifySdkServerSignedContent(ctx context.Context, req *pb.VerifySdkServerSignedContentRequest) (*pb.VerifySdkServerSignedContentResponse, error) {
	c := callOf(ctx)
	got, err := threeds.VerifySdkServerSignedContent(req.Jws, ts.trust, ts.s.now())
	if err != nil {
		return nil, err
	}
	c.Detail = "splitSdkServerID " + got.SplitSDKServerID + ", signer serial " + got.Leaf.SerialNumber.Text(16)
	return &pb.VerifySdkServerSignedContentResponse{SdkReferenceNumber: got.SDKReferenceNumber,
		SdkSignatureTimestamp: timestamppb.New(got.SDKSignatureTimestamp), SdkTransId: got.SDKTransID,
		SplitSdkServerId: got.SplitSDKServerID, SignerSubject: got.Leaf.Subject.String(), SignerSerial: got.Leaf.SerialNumber.Text(16)}, nil
}

// challenge returns the session manager for a CReq/CRes call (the
// pipeline authorized it on the session key).
func (ts *threeDSService) challenge(ctx context.Context, id string) (*threeds.Sessions, error) {
	if err := threeds.CheckSessionID(id); err != nil {
		return nil, err
	}
	callOf(ctx).Detail = "session " + id
	return ts.sessions(ctx)
}

// sessions binds the session manager to the session key's current
// versions: new sessions are sealed under the primary, older ones open
// under the version that sealed them.
func (ts *threeDSService) sessions(ctx context.Context) (*threeds.Sessions, error) {
	name := ts.s.cfg.ThreeDS.SessionKey
	e, err := ts.s.keys.Resolve(ctx, name)
	if kgerr.KindOf(err) == kgerr.NotFound {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "3DS sessions need the SYMMETRIC_DEFAULT key %q; create it with a policy for the ACS", name)
	}
	if err != nil {
		return nil, err
	}
	if e.Key.Spec != keys.SymmetricDefault {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "3DS session key %q must be SYMMETRIC_DEFAULT", name)
	}
	_, seal, err := e.Handle(0, true)
	if err != nil {
		return nil, err
	}
	return &threeds.Sessions{Store: ts.store, SealKey: seal, MaxTTL: ts.s.cfg.ThreeDS.SessionTTL, Cache: ts.cache, Defer: ts.deferWrite, Now: ts.s.now, OpenKey: func(_ context.Context, id string) (backends.Key, error) {
		for _, v := range e.Key.Versions {
			if v.BackendKeyID == id {
				if _, h, err := e.Handle(v.Number, false); err == nil {
					return h, nil
				}
			}
		}
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "the key that sealed this session is no longer usable")
	}}, nil
}

// deferWrite hands a session write to the pipeline, which commits it with
// the call's audit event before the answer leaves (callwrite.go).
func (ts *threeDSService) deferWrite(ctx context.Context, w threeds.Write) error {
	c := callOf(ctx)
	if c.write != nil {
		return kgerr.Errorf(kgerr.Internal, "BUG: a call made two session writes")
	}
	c.write = &callWrite{order: w.Session, run: func(ctx context.Context, tx *sql.Tx) error { return w.Run(ctx, ts.store.In(tx)) }}
	return nil
}

// ttl is the requested lifetime; 0 means threeds.session_ttl, and one above
// it is refused by threeds.Sessions.Create.
func (ts *threeDSService) ttl(seconds uint32) time.Duration {
	return time.Duration(seconds) * time.Second
}

// sweep deletes expired sessions every interval until ctx ends. Every
// replica sweeps; the deletes are idempotent.
func (ts *threeDSService) sweep(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if n, err := ts.store.DeleteExpired(ctx, ts.s.now()); err != nil {
			ts.s.log.Warn("3DS session sweep failed", "err", err)
		} else if n > 0 {
			ts.s.log.Debug("3DS sessions expired", "deleted", n)
		}
	})
}
