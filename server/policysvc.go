package server

import (
	"context"
	"net/netip"
	"strconv"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
	"github.com/keygate/keygate/policy"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// policyService implements PolicyService.
type policyService struct {
	pb.UnimplementedPolicyServiceServer
	s *Server
}

func (ps *policyService) SimulatePolicy(ctx context.Context, req *pb.SimulatePolicyRequest) (*pb.SimulatePolicyResponse, error) {
	e := callOf(ctx).Key
	if e.Policy == nil {
		return nil, kgerr.Errorf(kgerr.FailedPrecondition, "key %q has no policy", req.KeyId)
	}
	if req.PrincipalArn == "" || req.Action == "" {
		return nil, kgerr.Errorf(kgerr.InvalidArgument, "principal_arn and action are required")
	}
	f, err := simulateFacts(req, e)
	if err != nil {
		return nil, err
	}
	r := ps.s.authz.request(f)
	ex := e.Policy.Explain(&r)
	return &pb.SimulatePolicyResponse{Allowed: ex.Decision.Allowed, Effect: ex.Decision.Effect.String(),
		Sid: ex.Decision.Sid, Explanation: ex.String()}, nil
}

// simulateFacts is what the policy would see of the call a simulation
// describes: the same facts a real call records, turned into a request by
// the same policyAuthorizer.request.
func simulateFacts(req *pb.SimulatePolicyRequest, e *keyring.Entry) (facts, error) {
	// The descriptors' own facts functions give the defaults a real call
	// would get (the key's algorithm when none is named, RAW messages).
	f := facts{principal: req.PrincipalArn, action: req.Action, key: e, encContext: req.EncryptionContext}
	c := &Call{}
	switch e.Key.Usage {
	case keys.SignVerify:
		signFacts(c, &pb.SignRequest{SigningAlgorithm: req.SigningAlgorithm, MessageType: req.MessageType}, e.Key)
	case keys.EncryptDecrypt:
		encryptFacts(c, &pb.EncryptRequest{EncryptionAlgorithm: req.EncryptionAlgorithm}, e.Key)
	case keys.GenerateVerifyMac:
		macFacts(c, &pb.GenerateMacRequest{MacAlgorithm: req.MacAlgorithm}, e.Key)
	case keys.KeyAgreement:
		ecdhFacts(c, nil, e.Key)
	}
	f.algorithm, f.messageType = c.Algorithm, c.MessageType
	if req.SourceIp != "" {
		ip, err := netip.ParseAddr(req.SourceIp)
		if err != nil {
			return facts{}, kgerr.Errorf(kgerr.InvalidArgument, "source_ip is not an IP address")
		}
		f.sourceIP = ip
	}
	return f, nil
}

func (ps *policyService) DiffKeyPolicy(ctx context.Context, req *pb.DiffKeyPolicyRequest) (*pb.DiffKeyPolicyResponse, error) {
	e := callOf(ctx).Key
	resp := &pb.DiffKeyPolicyResponse{}
	err := ps.eachKeeper(e.Key, func(v *keys.Version, pk backends.PolicyKeeper) error {
		doc, err := pk.GetKeyPolicy(ctx)
		if err != nil {
			return err
		}
		theirs, err := policy.Parse(doc)
		if err != nil {
			return kgerr.Wrap(kgerr.FailedPrecondition, err, "the backend's policy for version "+strconv.FormatUint(uint64(v.Number), 10)+" is not a valid key policy")
		}
		ours, err := kmsPolicy(e.Policy)
		if err != nil {
			return err
		}
		d := policy.Diff(ours, theirs)
		resp.Versions = append(resp.Versions, &pb.VersionPolicyDiff{Version: v.Number, BackendKeyId: v.BackendKeyID,
			InSync: len(d) == 0, Differences: d})
		return nil
	}, e.Opened)
	return resp, err
}

func (ps *policyService) PushKeyPolicy(ctx context.Context, req *pb.PushKeyPolicyRequest) (*pb.PushKeyPolicyResponse, error) {
	c := callOf(ctx)
	e := c.Key
	resp := &pb.PushKeyPolicyResponse{}
	var doc []byte
	var err error
	if e.Policy != nil {
		if doc, err = e.Policy.ForKMS(); err != nil {
			return nil, err
		}
	}
	err = ps.eachKeeper(e.Key, func(v *keys.Version, pk backends.PolicyKeeper) error {
		if err := pk.PutKeyPolicy(ctx, doc, req.BypassPolicyLockoutSafetyCheck); err != nil {
			return err
		}
		resp.Versions = append(resp.Versions, v.Number)
		return nil
	}, e.Opened)
	if err == nil {
		ps.s.log.Info("key policy pushed to backend", "key", req.KeyId, "versions", resp.Versions, "principal", c.Principal.ARN)
	}
	return resp, err
}

// kmsPolicy is the part of keygate's policy that KMS can hold: the
// document without keygate: actions, which mean nothing there.
func kmsPolicy(p *policy.Policy) (*policy.Policy, error) {
	doc, err := p.ForKMS()
	if err != nil {
		return nil, err
	}
	return policy.Parse(doc)
}

// eachKeeper runs fn for every open version whose backend keeps its own
// policy; a key with none is a FailedPrecondition.
func (ps *policyService) eachKeeper(k *keys.Key, fn func(*keys.Version, backends.PolicyKeeper) error,
	opened func(uint32) (backends.Key, bool)) error {
	if len(k.Policy) == 0 {
		return kgerr.Errorf(kgerr.FailedPrecondition, "key %q has no policy", k.Name)
	}
	n := 0
	for i := range k.Versions {
		v := &k.Versions[i]
		h, ok := opened(v.Number)
		pk, keeps := h.(backends.PolicyKeeper)
		if !ok || !keeps {
			continue
		}
		n++
		if err := fn(v, pk); err != nil {
			return err
		}
	}
	if n == 0 {
		return kgerr.Errorf(kgerr.FailedPrecondition, "key %q is in backend %q, which keeps no key policy of its own", k.Name, k.Backend)
	}
	return nil
}
