// Package server is keygated: the gRPC services over mutual TLS, the
// interceptor that turns each RPC into an identified, validated,
// authorized and audited call, and the one mapping of keygate errors to
// gRPC codes (errors.go).
//
// # The call pipeline
//
// Every RPC is declared once, in the descriptor table of methods.go, and
// one interceptor (pipeline.go) runs the same stages for each, in this
// order:
//
//  1. identity: the verified client certificate's one URI SAN (or, without
//     one, its CN) mapped by the config to a principal ARN (identity.go);
//  2. request validation: every string and bytes field bounded in length
//     and characters (fields.go), before anything reads the request;
//  3. key resolution: the descriptor's key locator names the key (key_id,
//     a ciphertext's header, the configured 3DS session key);
//  4. policy: the request facts the descriptor records, then the key
//     policy or, for account actions, the config's admins, auditors and
//     adopters (authz.go); keygated's own keys are refused to everyone;
//  5. what the key is: usage, state and version are checked only after an
//     Allow, so an unauthorized caller learns nothing about the key;
//  6. the handler, which finds the key, version and backend handle on its
//     Call (callOf(ctx)) and never authorizes; a panic becomes Internal;
//  7. audit: the call's event is durable before the caller gets an answer.
//
// A call that reaches a handler, or is answered, without an Allow is a bug:
// it is refused as Internal with a loud log line.
//
// # Adding an RPC
//
// Add the method to its .proto and run `make proto`; then:
//
//   - one line in methods.go: the action (add a keygate: action to
//     policy/actions.go if it is new), where the key is (byKeyID for a
//     key_id field, nil for an account action), the usage it needs, crypto
//     and newOutput if it uses a backend handle, and a facts function if
//     the policy's condition keys need the request's algorithm or
//     encryption context;
//   - a thin handler that reads callOf(ctx) for the resolved key (c.Key),
//     version and handle (c.version, c.handle), checks the request against
//     the key, and does the work, returning kgerr errors.
//
// TestEveryMethodHasADescriptor fails until the descriptor exists; a
// method without one is refused at run time. Field limits other than the
// default (a printable token of at most 256 bytes) go in fields.go's
// fieldRules.
package server
