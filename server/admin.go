package server

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
	"github.com/keygate/keygate/policy"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// adminService implements KeyAdminService.
type adminService struct {
	pb.UnimplementedKeyAdminServiceServer
	s *Server
}

// BackendStater is implemented by backend keys whose backend keeps its own
// state (KMS: Enabled, Disabled, PendingDeletion), shown by DescribeKey.
type BackendStater interface {
	State(ctx context.Context) (string, error)
}

func (as *adminService) CreateKey(ctx context.Context, req *pb.CreateKeyRequest) (*pb.CreateKeyResponse, error) {
	c := callOf(ctx)
	backend := req.Backend
	if backend == "" {
		backend = as.s.cfg.DefaultBackend
	}
	doc := []byte(req.Policy)
	if len(doc) == 0 {
		doc = policy.Default(as.s.cfg.Account, as.s.cfg.Admins)
	}
	if err := as.s.checkPolicy(doc, req.KeyId, req.BypassPolicyLockoutSafetyCheck, c.Principal.ARN); err != nil {
		return nil, err
	}
	p := createParams(req, backend, doc)
	if req.BackendKeyId != "" && slices.Contains(as.s.cfg.Lifecycle.DualControl, adoptOp) {
		ap, err := as.holdAdoption(ctx, c, req, p)
		return &pb.CreateKeyResponse{PendingApproval: ap}, err
	}
	held := createHeld(req, p)
	if ap, err := as.s.holdSelfGrantCreate(ctx, c, held, func() error { return as.creatable(ctx, p) }); ap != nil || err != nil {
		return &pb.CreateKeyResponse{PendingApproval: ap}, err
	}
	return as.create(ctx, c, p)
}

// createHeld is req as a held creation stores it: with the backend and
// policy decided now, not at approval.
func createHeld(req *pb.CreateKeyRequest, p keyring.CreateParams) *pb.CreateKeyRequest {
	held := proto.Clone(req).(*pb.CreateKeyRequest)
	held.Backend, held.Policy = p.Backend, string(p.Policy)
	return held
}

// creatable refuses at once a creation that would fail when approved: bad
// parameters, an unknown backend, a name taken.
func (as *adminService) creatable(ctx context.Context, p keyring.CreateParams) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if _, err := as.s.keys.Backend(p.Backend); err != nil {
		return err
	}
	switch _, err := as.s.keyStore.GetKey(ctx, p.Name); {
	case err == nil:
		return kgerr.Errorf(kgerr.AlreadyExists, "key %q already exists", p.Name)
	case kgerr.KindOf(err) != kgerr.NotFound:
		return err
	}
	return nil
}

// createParams is what CreateKey asks the keyring for.
func createParams(req *pb.CreateKeyRequest, backend string, doc []byte) keyring.CreateParams {
	return keyring.CreateParams{
		Name: req.KeyId, Description: req.Description, Spec: keys.Spec(req.KeySpec), Usage: keys.Usage(req.KeyUsage),
		Backend: backend, BackendKeyID: req.BackendKeyId, Policy: doc, AllowRawSecret: req.AllowRawSharedSecret,
		RotationPeriod: days(req.RotationPeriodInDays), Cryptoperiod: days(req.CryptoperiodDays),
	}
}

// create makes the key now (generated, or adopted).
func (as *adminService) create(ctx context.Context, c *Call, p keyring.CreateParams) (*pb.CreateKeyResponse, error) {
	p.Opened = func(h backends.Key) {
		if p.BackendKeyID != "" {
			c.Detail = strings.TrimPrefix(c.Detail+"; "+adoptedDetail(h), "; ")
		}
	}
	e, err := as.s.keys.Create(ctx, p)
	if err != nil {
		return nil, err
	}
	c.Key, c.Version, c.BackendKeyID = e, 1, e.Key.Versions[0].BackendKeyID
	as.s.log.Info("key created", "key", p.Name, "spec", p.Spec, "usage", p.Usage, "backend", p.Backend, "principal", c.Principal.ARN)
	return &pb.CreateKeyResponse{Key: as.s.metadata(ctx, e)}, nil
}

func (as *adminService) DescribeKey(ctx context.Context, req *pb.DescribeKeyRequest) (*pb.DescribeKeyResponse, error) {
	e := callOf(ctx).Key
	return &pb.DescribeKeyResponse{Key: as.s.metadata(ctx, e)}, nil
}

func (as *adminService) ListKeys(ctx context.Context, req *pb.ListKeysRequest) (*pb.ListKeysResponse, error) {
	size := int(req.PageSize)
	switch {
	case size == 0:
		size = 100
	case size > 1000:
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "page_size must be at most 1000")
	}
	if req.PageToken != "" && !keys.ValidName(req.PageToken) {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "page_token is not valid")
	}
	ks, err := as.s.keys.List(ctx, req.PageToken, size+1)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListKeysResponse{}
	if len(ks) > size {
		ks = ks[:size]
		resp.NextPageToken = ks[size-1].Name
	}
	for _, k := range ks {
		resp.Keys = append(resp.Keys, as.s.keyMetadata(k, nil))
	}
	return resp, nil
}

func (as *adminService) EnableKey(ctx context.Context, req *pb.EnableKeyRequest) (*pb.EnableKeyResponse, error) {
	md, err := as.setState(ctx, req.KeyId, keys.Enabled)
	return &pb.EnableKeyResponse{Key: md}, err
}

func (as *adminService) DisableKey(ctx context.Context, req *pb.DisableKeyRequest) (*pb.DisableKeyResponse, error) {
	md, err := as.setState(ctx, req.KeyId, keys.Disabled)
	return &pb.DisableKeyResponse{Key: md}, err
}

func (as *adminService) setState(ctx context.Context, name string, state keys.KeyState) (*pb.KeyMetadata, error) {
	c := callOf(ctx)
	e, err := as.s.keys.SetState(ctx, name, state)
	if err != nil {
		return nil, err
	}
	c.Key = e
	as.s.log.Info("key state changed", "key", name, "state", state, "principal", c.Principal.ARN)
	return as.s.metadata(ctx, e), nil
}

func (as *adminService) GetKeyPolicy(ctx context.Context, req *pb.GetKeyPolicyRequest) (*pb.GetKeyPolicyResponse, error) {
	e := callOf(ctx).Key
	return &pb.GetKeyPolicyResponse{KeyId: req.KeyId, Policy: string(e.Key.Policy)}, nil
}

func (as *adminService) PutKeyPolicy(ctx context.Context, req *pb.PutKeyPolicyRequest) (*pb.PutKeyPolicyResponse, error) {
	c := callOf(ctx)
	if err := as.s.checkPolicy([]byte(req.Policy), req.KeyId, req.BypassPolicyLockoutSafetyCheck, c.Principal.ARN); err != nil {
		return nil, err
	}
	if ap, err := as.s.holdSelfGrant(ctx, c, req); ap != nil || err != nil {
		return &pb.PutKeyPolicyResponse{KeyId: req.KeyId, PendingApproval: ap}, err
	}
	if ap, err := as.s.holdForApproval(ctx, c, c.Key, "PutKeyPolicy", "replace the key policy", req,
		func(*keys.Key) error { return nil }); ap != nil || err != nil {
		return &pb.PutKeyPolicyResponse{KeyId: req.KeyId, PendingApproval: ap}, err
	}
	e, err := as.s.keys.Update(ctx, req.KeyId, func(k *keys.Key) error {
		k.Policy = []byte(req.Policy)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Key = e
	as.s.log.Info("key policy changed", "key", req.KeyId, "principal", c.Principal.ARN, "bypass_lockout_check", req.BypassPolicyLockoutSafetyCheck)
	return &pb.PutKeyPolicyResponse{KeyId: req.KeyId}, nil
}

// checkPolicy validates a policy document for a key and, unless bypassed,
// runs KMS's lockout safety check: the caller or some configured admin
// must still be able to change the policy afterwards.
func (s *Server) checkPolicy(doc []byte, name string, bypass bool, caller string) error {
	if len(doc) == 0 {
		return kgerr.Errorf(kgerr.InvalidArgument, "policy is required")
	}
	p, err := policy.Parse(doc)
	if err != nil {
		return err
	}
	if bypass {
		return nil
	}
	return policy.CheckLockout(p, s.cfg.KeyARN(name), append([]string{caller}, s.cfg.Admins...), time.Now())
}

// metadata describes a resolved key, with the backend's own state where
// the backend has one.
func (s *Server) metadata(ctx context.Context, e *keyring.Entry) *pb.KeyMetadata {
	return s.keyMetadata(e.Key, func(v *keys.Version) string {
		h, ok := e.Opened(v.Number)
		if !ok {
			// Versions that serve nothing (pending deletion) are not
			// opened; a backend that can say their state without a
			// handle still does.
			if ks, ok := s.backends[e.Key.Backend].(interface {
				KeyState(ctx context.Context, id string) (string, error)
			}); ok && v.State != keys.VersionDestroyed {
				if state, err := ks.KeyState(ctx, v.BackendKeyID); err == nil {
					return state
				}
				return "UNKNOWN"
			}
			return ""
		}
		if st, ok := h.(BackendStater); ok {
			if state, err := st.State(ctx); err == nil {
				return state
			}
			return "UNKNOWN"
		}
		return ""
	})
}

func (s *Server) keyMetadata(k *keys.Key, backendState func(*keys.Version) string) *pb.KeyMetadata {
	md := &pb.KeyMetadata{
		KeyId: k.Name, Arn: s.cfg.KeyARN(k.Name), Description: k.Description, KeySpec: string(k.Spec),
		KeyUsage: string(k.Usage), Backend: k.Backend, KeyState: string(k.State), CreateTime: timestamppb.New(k.CreatedAt),
	}
	if p := k.Primary(); p != nil {
		md.PrimaryVersion = p.Number
	}
	md.RotationPeriodInDays, md.CryptoperiodDays = inDays(k.RotationPeriod), inDays(s.cfg.cryptoperiod(k))
	md.DualControl = s.dualControlOf(k)
	for i := range k.Versions {
		v := &k.Versions[i]
		kv := &pb.KeyVersion{Version: v.Number, State: string(v.State), BackendKeyId: v.BackendKeyID,
			CreateTime: timestamppb.New(v.CreatedAt), CertificateCount: uint32(len(v.CertChain)), Origin: v.Origin}
		if t := v.Token; t != nil {
			kv.TokenAttributes = &pb.TokenAttributes{Local: t.Local, NeverExtractable: t.NeverExtractable, AlwaysSensitive: t.AlwaysSensitive}
		}
		if !v.DeletionAt.IsZero() {
			kv.DeletionTime = timestamppb.New(v.DeletionAt)
		}
		if due, ok := s.due(k, v); ok {
			kv.RotationDueTime, kv.Overdue = timestamppb.New(due), !s.keys.Now().Before(due)
		}
		if backendState != nil {
			kv.BackendState = backendState(v)
		}
		md.Versions = append(md.Versions, kv)
	}
	return md
}
