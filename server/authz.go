package server

import (
	"net/netip"
	"slices"
	"time"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
	"github.com/keygate/keygate/policy"
)

// accountActions are not about one existing key: like KMS, where they
// belong to IAM policies rather than key policies, they are granted by the
// config (admins, auditors, adopters).
var accountActions = map[string]bool{"kms:CreateKey": true, "kms:ListKeys": true,
	"keygate:ReadAuditLog": true, "keygate:AdoptKey": true}

// auditorReads are what the config's auditors may do on every key,
// whatever its policy: read the inventory, the policies (and their
// history), the certificate chains and the audit log; never change or use
// a key (issue 16: duties kept apart).
var auditorReads = map[string]bool{"kms:ListKeys": true, "kms:DescribeKey": true, "kms:GetKeyPolicy": true,
	"keygate:ReadAuditLog": true, "keygate:GetCertificate": true}

// keyOrigins give kms:KeyOrigin its value by backend type.
var keyOrigins = map[string]string{"kms": "AWS_KMS", "pkcs11": "AWS_CLOUDHSM"}

// policyAuthorizer is the one enforcement stage: after the caller is
// authenticated and the key resolved, before anything about the key is
// revealed or the backend touched, the key's policy decides. A denial says
// only that the principal may not do the action: never the policy's text,
// the key's usage, or who else may.
type policyAuthorizer struct {
	admins       []string
	auditors     []string
	adopters     []string
	own          map[string]bool   // keygated's own keys: no policy grants their use
	backendTypes map[string]string // backend name → type
	now          func() time.Time
	// sdkServerVerifiers may call keygate:VerifySdkServerSignedContent
	// (threeds.sdk_server.principals): it is about no key.
	sdkServerVerifiers []string
}

func (a *policyAuthorizer) authorize(c *Call) error {
	if a.own[c.KeyName] && !policy.OwnKeyReads[c.Action] {
		return a.deny(c, "Deny", "keygate:OwnKey")
	}
	if auditorReads[c.Action] && slices.Contains(a.auditors, c.Principal.ARN) {
		return a.allow(c, "config:auditors")
	}
	if accountActions[c.Action] || c.Key == nil {
		switch {
		case c.Action == "keygate:ReadAuditLog":
			// The auditors' alone (allowed above): an admin reads the log
			// only when it is also an auditor (issue 16, finding 4).
			c.Decision, c.Sid = "ImplicitDeny", ""
			return kgerr.Errorf(kgerr.PermissionDenied, "%s is not authorized to perform keygate:ReadAuditLog: reading the audit log needs the auditor role (the config's auditors)", c.Principal.ARN)
		case c.Action == "keygate:AdoptKey":
			if slices.Contains(a.adopters, c.Principal.ARN) {
				return a.allow(c, "config:adopters")
			}
		case slices.Contains(a.admins, c.Principal.ARN):
			return a.allow(c, "config:admins")
		}
		if c.Action == "keygate:VerifySdkServerSignedContent" && slices.Contains(a.sdkServerVerifiers, c.Principal.ARN) {
			return a.allow(c, "config:threeds.sdk_server.principals")
		}
		return a.deny(c, "ImplicitDeny", "")
	}
	p := c.Key.Policy
	if p == nil {
		return a.deny(c, "ImplicitDeny", "")
	}
	req := a.request(c.facts())
	d := p.Evaluate(&req)
	if !d.Allowed {
		return a.deny(c, d.Effect.String(), d.Sid)
	}
	return a.allow(c, d.Sid)
}

// authorizeAlso checks a second action a call implies (creating an ACS
// session signs, so it needs kms:Sign as well). The call's decision stays
// the first one's unless this one denies.
func (a *policyAuthorizer) authorizeAlso(c *Call, action string) error {
	second := *c
	second.Action = action
	if err := a.authorize(&second); err != nil {
		c.Decision, c.Sid = second.Decision, second.Sid
		return err
	}
	return nil
}

func (a *policyAuthorizer) allow(c *Call, sid string) error {
	c.Decision, c.Sid = "Allow", sid
	return nil
}

func (a *policyAuthorizer) deny(c *Call, decision, sid string) error {
	c.Decision, c.Sid = decision, sid
	if c.KeyName == "" {
		return kgerr.Errorf(kgerr.PermissionDenied, "%s is not authorized to perform %s", c.Principal.ARN, c.Action)
	}
	return kgerr.Errorf(kgerr.PermissionDenied, "%s is not authorized to perform %s on key %s", c.Principal.ARN, c.Action, c.KeyName)
}

// facts is what the policy sees of a call, real or simulated.
type facts struct {
	principal   string
	action      string
	key         *keyring.Entry
	algorithm   string
	messageType string
	encContext  map[string]string
	sourceIP    netip.Addr
}

func (c *Call) facts() facts {
	f := facts{principal: c.Principal.ARN, action: c.Action, key: c.Key, algorithm: c.Algorithm,
		messageType: c.MessageType, encContext: c.EncContext}
	if ap, err := netip.ParseAddrPort(c.Peer); err == nil {
		f.sourceIP = ap.Addr().Unmap()
	}
	return f
}

// request builds the policy's view of a call. It is the one place a
// policy.Request is made, for enforcement and for `policy simulate` alike.
func (a *policyAuthorizer) request(f facts) policy.Request {
	k := f.key.Key
	origin := keyOrigins[a.backendTypes[k.Backend]]
	if k.External() {
		origin = keys.OriginExternal
	}
	r := policy.Request{
		Principal: f.principal, Action: f.action, Resource: f.key.ARN,
		KeySpec: k.Spec, KeyUsage: k.Usage, KeyOrigin: origin,
		EncryptionContext: f.encContext, CurrentTime: a.now(), SourceIP: f.sourceIP,
	}
	switch k.Usage {
	case keys.SignVerify:
		r.SigningAlgorithm = keys.SigningAlgorithm(f.algorithm)
		r.MessageType = keys.MessageType(f.messageType)
	case keys.EncryptDecrypt:
		r.EncryptionAlgorithm = keys.EncryptionAlgorithm(f.algorithm)
	case keys.GenerateVerifyMac:
		r.MacAlgorithm = keys.MacAlgorithm(f.algorithm)
	case keys.KeyAgreement:
		r.KeyAgreementAlgorithm = keys.KeyAgreementAlgorithm(f.algorithm)
	}
	return r
}
