package server

import (
	"context"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
)

// Call is what keygate knows about one RPC: the interceptor starts it,
// resolves its key and records its decision; the handler adds what the
// operation did; the audit record is made from it before the caller gets
// an answer.
type Call struct {
	Start         time.Time
	Method        string // full gRPC method name
	Action        string // kms:Sign, keygate:CreateAcsSession, ...
	Principal     Principal
	Peer          string
	CorrelationID string // the caller's x-request-id

	Key          *keyring.Entry // nil until resolved
	KeyName      string
	Version      uint32
	BackendKeyID string
	// Request facts, also the policy's condition keys.
	Algorithm   string
	MessageType string
	EncContext  map[string]string
	// Decision is "Allow", "Deny" (explicit) or "ImplicitDeny"; Sid names
	// the statement that decided.
	Decision string
	Sid      string
	Backend  backends.CallInfo
	// Detail says what an administrative call changed (caller-safe).
	Detail string

	Err     error
	Latency time.Duration

	// version and handle are the key version and backend handle a crypto
	// call uses, set by the pipeline after the policy allowed the call.
	version *keys.Version
	handle  backends.Key
	// kid is the sdkEncData header's kid when it chose the key.
	kid string
	// journaled is set once the call's change to the key registry has
	// committed with its audit event (journal.go); then a success needs no
	// second record.
	journaled bool
	// write is the store write the handler's answer depends on, committed
	// with the call's audit event (callwrite.go).
	write *callWrite
	// held is set when the call's operation waits for a second admin: its
	// event is a call, not the change it asks for (approvals.go).
	held bool
	// creating is set when the call is about a key not made yet: a
	// CreateKey, or the decision on a held one (the config's admins
	// decide, as for kms:CreateKey).
	creating bool
	// handlerTime is how long the handler ran: the backend stage, for
	// metrics and traces.
	handlerTime time.Duration
}

// recorder makes a call's record durable: the tamper-evident log, or the
// structured log when the audit log is disabled. The call is answered only
// after Record returns; if it fails, the call fails closed.
type recorder interface {
	Record(ctx context.Context, c *Call) error
}

type callKey struct{}

// callOf is the call the interceptor started. Every keygate method passes
// the interceptor; were one not to, the empty call it gets here has no
// decision, and the handler's answer is refused (see allowed).
func callOf(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	if c == nil {
		c = &Call{}
	}
	return c
}

// allowed reports whether the call carries the policy's Allow.
func (c *Call) allowed() bool { return c.Decision == "Allow" }
