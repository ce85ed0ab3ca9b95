package server

import (
	"context"
	"slices"

	"github.com/keygate/keygate/keys"
)

// adminActions are the actions of the administrative API.
var adminActions = map[string]bool{
	"kms:CreateKey": true, "kms:DescribeKey": true, "kms:ListKeys": true,
	"kms:EnableKey": true, "kms:DisableKey": true,
}

// configAuthorizer is the rule before key policies: the config's admins
// may use the administrative API, and every mapped principal may use keys.
type configAuthorizer struct {
	admins []string
}

func (a configAuthorizer) Authorize(_ context.Context, c *Call) error {
	if !adminActions[c.Action] {
		c.Decision, c.Sid = "Allow", "config:principals"
		return nil
	}
	if slices.Contains(a.admins, c.Principal.ARN) {
		c.Decision, c.Sid = "Allow", "config:admins"
		return nil
	}
	c.Decision, c.Sid = "ImplicitDeny", ""
	return keys.Errorf(keys.PermissionDenied, "%s is not allowed to call %s", c.Principal.ARN, c.Action)
}
