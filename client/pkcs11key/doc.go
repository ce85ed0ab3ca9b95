// Package pkcs11key opens a client's private key held in a PKCS#11 token
// or smart card, named by an RFC 7512 URI, as a crypto.Signer that never
// lets the key leave the token. keygate's CLI uses it for an
// administrator's mTLS key (PCI DSS 8.4.2: something the admin has, the
// token, and something the admin knows, its PIN); Go callers pass the Key
// to client.WithTLSSigner.
//
//	k, err := pkcs11key.Open(ctx, "pkcs11:token=admin;object=alice?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/alice.pin")
//	c, err := client.Dial(ctx, addr, client.WithTLSSigner(caFile, certFile, k))
//
// The PIN comes from the URI's pin-source (a file) or pin-value, else from
// the prompt given with WithPINPrompt; it is used for C_Login only and is
// in no error message. Signing is C_Sign with CKM_ECDSA (P-256, P-384),
// CKM_RSA_PKCS (PKCS#1 v1.5) or CKM_RSA_PKCS_PSS, which is what TLS 1.2
// and 1.3 ask of a client key.
//
// A lost session (a card pulled and put back) is restored once, at the
// next signature, asking for the PIN again: a Key keeps no PIN.
//
// A Key initialises the module unless something else in the process did
// (keygate's pkcs11 backend): then it leaves C_Finalize to that user.
// Generate makes a new non-extractable key pair in a token, for a token
// that has no key yet; `keygate token keygen` is its command.
//
// Built with CGO_ENABLED=0, Open and Generate answer ErrNoCgo.
package pkcs11key
