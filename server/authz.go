package server

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/policy"
)

// accountActions are not about one key: like KMS, where they belong to IAM
// policies rather than key policies, they are granted by the config's
// admins list.
var accountActions = map[string]bool{"kms:CreateKey": true, "kms:ListKeys": true, "keygate:ReadAuditLog": true}

// keyOrigins give kms:KeyOrigin its value by backend type.
var keyOrigins = map[string]string{"kms": "AWS_KMS", "pkcs11": "AWS_CLOUDHSM"}

// policyAuthorizer is the one enforcement stage: after the caller is
// authenticated and the key resolved, before the backend is touched, the
// key's policy decides. A denial says only that the principal may not do
// the action: never the policy's text or who else may.
type policyAuthorizer struct {
	admins       []string
	auditors     []string
	backendTypes map[string]string // backend name → type
	now          func() time.Time
	// sdkServerVerifiers may call keygate:VerifySdkServerSignedContent
	// (threeds.sdk_server.principals): it is about no key.
	sdkServerVerifiers []string
}

func (a *policyAuthorizer) Authorize(_ context.Context, c *Call) error {
	if accountActions[c.Action] || c.Key == nil {
		if slices.Contains(a.admins, c.Principal.ARN) {
			c.Decision, c.Sid = "Allow", "config:admins"
			return nil
		}
		if c.Action == "keygate:ReadAuditLog" && slices.Contains(a.auditors, c.Principal.ARN) {
			c.Decision, c.Sid = "Allow", "config:auditors"
			return nil
		}
		if c.Action == "keygate:VerifySdkServerSignedContent" && slices.Contains(a.sdkServerVerifiers, c.Principal.ARN) {
			c.Decision, c.Sid = "Allow", "config:threeds.sdk_server.principals"
			return nil
		}
		return a.deny(c, "ImplicitDeny", "")
	}
	p := c.Key.Policy
	if p == nil {
		return a.deny(c, "ImplicitDeny", "")
	}
	req := a.request(c)
	d := p.Evaluate(&req)
	if !d.Allowed {
		return a.deny(c, d.Effect.String(), d.Sid)
	}
	c.Decision, c.Sid = "Allow", d.Sid
	return nil
}

func (a *policyAuthorizer) deny(c *Call, decision, sid string) error {
	c.Decision, c.Sid = decision, sid
	target := c.KeyName
	if target == "" {
		return kgerr.Errorf(kgerr.PermissionDenied, "%s is not authorized to perform %s", c.Principal.ARN, c.Action)
	}
	return kgerr.Errorf(kgerr.PermissionDenied, "%s is not authorized to perform %s on key %s", c.Principal.ARN, c.Action, target)
}

// request builds the policy's view of a call: typed condition values, no
// per-call map.
func (a *policyAuthorizer) request(c *Call) policy.Request {
	k := c.Key.Key
	r := policy.Request{
		Principal: c.Principal.ARN, Action: c.Action, Resource: c.Key.ARN,
		KeySpec: k.Spec, KeyUsage: k.Usage, KeyOrigin: keyOrigins[a.backendTypes[k.Backend]],
		EncryptionContext: c.EncContext, CurrentTime: a.now(),
	}
	if ap, err := netip.ParseAddrPort(c.Peer); err == nil {
		r.SourceIP = ap.Addr().Unmap()
	}
	switch k.Usage {
	case keys.SignVerify:
		r.SigningAlgorithm = keys.SigningAlgorithm(c.Algorithm)
		r.MessageType = keys.MessageType(c.MessageType)
	case keys.EncryptDecrypt:
		r.EncryptionAlgorithm = keys.EncryptionAlgorithm(c.Algorithm)
	case keys.GenerateVerifyMac:
		r.MacAlgorithm = keys.MacAlgorithm(c.Algorithm)
	case keys.KeyAgreement:
		r.KeyAgreementAlgorithm = keys.KeyAgreementAlgorithm(c.Algorithm)
	}
	return r
}
