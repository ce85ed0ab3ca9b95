package server

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/keys"
	keysql "github.com/keygate/keygate/keys/sqlstore"
)

// journal is the key store's Journal (keys/sqlstore): the audit event of
// an administrative call is appended to the chain in the transaction that
// changes the registry, so the change and its record commit together or
// not at all. The event says what changed and the digest of the key as
// stored, so `audit verify` users can match the registry to the chain.
func (s *Server) journal(ctx context.Context, tx *sql.Tx, before, after *keys.Key) error {
	c := callOf(ctx)
	e := s.chain.eventOf(c)
	if c.Method == "" {
		// A change keygated makes itself (automatic rotation), not a call.
		e.Kind, e.Action, e.Principal = audit.KindCall, "keygate:RegistryChange", "keygated"
	}
	e.Result, e.Error = audit.ResultOK, ""
	if !c.Start.IsZero() {
		e.Latency = time.Since(c.Start)
	}
	e.KeyName = after.Name
	if k, ok := kindOf[e.Action]; ok {
		e.Kind = k
	}
	if before == nil { // a key made: also when an approval runs a held CreateKey
		e.Kind = audit.KindKeyCreated
	}
	detail, v := describeChange(before, after)
	if v != nil {
		e.KeyVersion, e.BackendKeyID = v.Number, v.BackendKeyID
	}
	e.Detail = audit.RegistryDetail(detail, keys.RowDigest(after))
	if c.Detail != "" { // what the handler learned before the change: an adopted key's provenance, the approval that ran it
		e.Detail = c.Detail + "; " + e.Detail
	}
	link, err := s.chain.log.Stage(&e)
	if err != nil {
		return err
	}
	head, err := s.auditStore.AppendTx(ctx, tx, link)
	if err != nil {
		return err
	}
	if before == nil && len(after.Policy) > 0 || before != nil && string(before.Policy) != string(after.Policy) {
		// The document itself, for `keys policy-history`; the event names its digest.
		if err := s.keyStore.RecordPolicy(ctx, tx, after.Name, head.Seq, after.Policy); err != nil {
			return err
		}
	}
	c.journaled = true
	return nil
}

// describeChange says, caller-safe, what an administrative change did,
// and returns the version it was mostly about (new, or first changed).
func describeChange(before, after *keys.Key) (string, *keys.Version) {
	var parts []string
	var about *keys.Version
	note := func(v *keys.Version, s string) {
		parts = append(parts, s)
		if about == nil {
			about = v
		}
	}
	if before == nil {
		before = &keys.Key{State: "(new)"}
	}
	if before.State != after.State {
		parts = append(parts, fmt.Sprintf("key %s -> %s", before.State, after.State))
	}
	if string(before.Policy) != string(after.Policy) {
		parts = append(parts, "policy "+policyName(before.Policy)+" -> "+policyName(after.Policy))
	}
	if before.RotationPeriod != after.RotationPeriod || before.Cryptoperiod != after.Cryptoperiod {
		parts = append(parts, fmt.Sprintf("rotation period %dd, cryptoperiod %dd", inDays(after.RotationPeriod), inDays(after.Cryptoperiod)))
	}
	if fmt.Sprint(before.DualControl) != fmt.Sprint(after.DualControl) || (before.DualControl == nil) != (after.DualControl == nil) {
		if after.DualControl == nil {
			parts = append(parts, "dual control: the server's default")
		} else {
			parts = append(parts, "dual control: ["+strings.Join(after.DualControl, ",")+"]")
		}
	}
	if len(before.TrustAnchors) != len(after.TrustAnchors) || len(after.TrustAnchors) > 0 && string(before.TrustAnchors[0]) != string(after.TrustAnchors[0]) {
		parts = append(parts, "trust anchor set")
	}
	for i := len(after.Versions) - 1; i >= 0; i-- { // newest first: a rotation names its new version
		v := &after.Versions[i]
		old := before.Version(v.Number)
		switch {
		case old == nil:
			note(v, fmt.Sprintf("v%d (new) -> %s", v.Number, v.State))
		case old.State != v.State:
			note(v, fmt.Sprintf("v%d %s -> %s", v.Number, old.State, v.State))
		}
		if old != nil && len(old.CertChain) != len(v.CertChain) || old == nil && len(v.CertChain) > 0 {
			note(v, fmt.Sprintf("v%d certificate chain of %d", v.Number, len(v.CertChain)))
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no change of state")
	}
	return strings.Join(parts, "; "), about
}

// policyName names a policy document in an event: its full digest, which
// `keys policy-history` finds in the history table.
func policyName(doc []byte) string {
	if len(doc) == 0 {
		return "(none)"
	}
	return "sha256:" + keysql.PolicySHA256(doc)
}
