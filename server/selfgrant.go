package server

import (
	"context"
	"strings"

	"github.com/keygate/keygate/policy"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Duties apart (issue 16, finding 4): an admin changes key policies but
// must not give itself use of a key alone. A PutKeyPolicy whose new
// document grants its author a data-plane action the current one does not
// waits for a different admin's approval, whether or not the key lists
// PutKeyPolicy under dual control.

// dataPlaneActions use a key's secret half or the data it protects.
// kms:Verify and kms:GetPublicKey use only public material and are left
// out; the GenerateDataKey variants count for a document pushed to KMS.
var dataPlaneActions = []string{
	"kms:Sign", "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
	"kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyPair",
	"kms:GenerateDataKeyPairWithoutPlaintext", "kms:GenerateMac", "kms:VerifyMac", "kms:DeriveSharedSecret",
	"keygate:CreateAcsSession", "keygate:SignAcsContent", "keygate:DecryptChallengeRequest",
	"keygate:EncryptChallengeResponse", "keygate:DecryptSdkEncData", "keygate:GenerateOtp", "keygate:VerifyOtp",
}

// selfGrants lists the data-plane actions that next grants author on the
// key arn further than the current policy does (nil: a key not made yet):
// a grant where there was none, or one without conditions where there
// were some.
func selfGrants(current *policy.Policy, arn, author string, next *policy.Policy) []string {
	var out []string
	for _, a := range dataPlaneActions {
		was := policy.NoGrant
		if current != nil {
			was = current.MayAllow(author, a, arn)
		}
		if next.MayAllow(author, a, arn) > was {
			out = append(out, a)
		}
	}
	return out
}

// holdSelfGrant holds a PutKeyPolicy that grants its author use of the
// key for a second admin (the requester cannot approve its own); nil, nil
// when the new document grants the author nothing new. checkPolicy has
// parsed the document already.
func (s *Server) holdSelfGrant(ctx context.Context, c *Call, req *pb.PutKeyPolicyRequest) (*pb.Approval, error) {
	next, err := policy.Parse([]byte(req.Policy))
	if err != nil {
		return nil, err
	}
	grants := selfGrants(c.Key.Policy, c.Key.ARN, c.Principal.ARN, next)
	if len(grants) == 0 {
		return nil, nil
	}
	s.log.Info("a policy change grants its author use of the key: it waits for a second admin",
		"key", req.KeyId, "principal", c.Principal.ARN, "actions", grants)
	return s.hold(ctx, c, c.Key.Key.Name, "PutKeyPolicy", "replace the key policy, granting its requester "+strings.Join(grants, ", "), req)
}

// holdSelfGrantCreate is the same rule for a key being made: a CreateKey
// whose policy grants its creator a data-plane action waits for a
// different admin, who approves it as an account action (the key has no
// policy yet); the creation then runs as its requester asked.
func (s *Server) holdSelfGrantCreate(ctx context.Context, c *Call, req *pb.CreateKeyRequest, check func() error) (*pb.Approval, error) {
	next, err := policy.Parse([]byte(req.Policy)) // the document as decided (createHeld)
	if err != nil {
		return nil, err
	}
	grants := selfGrants(nil, s.cfg.KeyARN(req.KeyId), c.Principal.ARN, next)
	if len(grants) == 0 {
		return nil, nil
	}
	s.log.Info("a new key's policy grants its creator use of the key: the creation waits for a second admin",
		"key", req.KeyId, "principal", c.Principal.ARN, "actions", grants)
	if err := check(); err != nil {
		return nil, err
	}
	return s.hold(ctx, c, req.KeyId, createOp, "create the key with a policy granting its requester "+strings.Join(grants, ", "), req)
}
