// Package pkcs11 is keygate's backend for HSMs reached through PKCS#11
// (AWS CloudHSM in production, SoftHSM2 in development and tests), built on
// github.com/miekg/pkcs11. It registers the backend type "pkcs11".
//
// # PKCS#11's concurrency rules, and what this package does about them
//
//   - A module is initialised once per process (C_Initialize); a second
//     C_Initialize fails with CKR_CRYPTOKI_ALREADY_INITIALIZED and one
//     C_Finalize ends it for every user. Backends on the same module
//     therefore share one reference-counted handle (module.go), and only the
//     backend that initialised it finalises it, when the last one closes.
//   - The module is thread-safe (initialised with CKF_OS_LOCKING_OK), but a
//     session is not: a session runs one operation at a time, and
//     C_SignInit/C_Sign on one session from two goroutines interleave. Every
//     operation therefore borrows a session from a bounded pool for its whole
//     Init/Final pair (pool.go, in the manner of ThalesIgnite/crypto11's
//     withSession). Tokens limit sessions (CloudHSM: about 1000 per
//     application), so max_sessions bounds the pool and callers wait up to
//     session_wait, or their own deadline, for a free one.
//   - Login is per token per application, not per session: once one
//     session is logged in, all are, and closing the last session logs the
//     application out. The backend keeps one extra "anchor" session open for
//     its lifetime so the login survives pool sessions coming and going, and
//     never calls C_Logout (it would log out other backends on the token).
//   - Sessions can die under us (C_CloseAllSessions, a token removed, an HSM
//     failover). On CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED,
//     CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN or
//     CKR_CRYPTOKI_NOT_INITIALIZED the pool drops the session, logs in again
//     and retries the operation once. Object handles are only valid while the
//     module stays initialised, and SoftHSM2 also drops private object
//     handles when the application is logged out, so after a
//     re-initialisation or a fresh login every key finds its object again by
//     CKA_ID before its next use. A module must not have a session closed
//     under a running call: SoftHSM2 2.6 crashes then (C_Sign after a
//     concurrent C_CloseAllSessions), so the backend never does that itself.
//   - The token itself can go missing (an HSM removed, SoftHSM2's token
//     files moved away). A failed call then checks C_GetTokenInfo: if the
//     token is not in its slot, the call fails Unavailable, not with what
//     the module said (SoftHSM2: the key does not exist), and later calls
//     fail at once. At most once a second one of them finalises and
//     initialises the module again (SoftHSM2 reads its tokens only then),
//     after the calls in flight on it have returned (module.use), finds
//     the token's slot and logs in; keys find their objects again by
//     CKA_ID. Sessions from before a re-initialisation are never closed:
//     their numbers may already belong to new ones (token.go).
//   - Object handles are cached: a key is found by CKA_ID once, at Open; a
//     C_FindObjects per call cuts SoftHSM's throughput several-fold.
//     Mechanisms with constant parameters are built once.
//
// # Mechanisms
//
// ECDSA is CKM_ECDSA over the caller's digest, r||s re-encoded as DER.
// RSASSA-PSS is CKM_RSA_PKCS_PSS (salt = digest length, MGF1 with the same
// hash); PKCS#1 v1.5 is CKM_RSA_PKCS over the DigestInfo. RSAES_OAEP_SHA_256
// decrypts with CKM_RSA_PKCS_OAEP; SoftHSM2 2.6 accepts only SHA-1 there, so
// if the token refuses the parameters the backend decrypts with
// CKM_RSA_X_509 in the token and removes the padding in constant time in Go
// (oaep.go). Encryption under RSA uses the cached public key. AES-256-GCM
// blobs are iv || ciphertext || tag with backends.ContextAAD as AAD; the IV
// is drawn in Go, except on CloudHSM, which wants a zeroed buffer and
// writes its own IV into it (cloudhsm.go). HMAC is CKM_SHA{256,384,512}_HMAC;
// ECDH is CKM_ECDH1_DERIVE with CKD_NULL into a session object that is read
// and destroyed at once (refused on CloudHSM, which has no CKD_NULL).
//
// # What the token can do
//
// At Open the backend reads the token's mechanism list and info (caps.go).
// A key spec or an operation whose mechanism the token lacks is refused
// with FailedPrecondition naming the mechanism, and Capabilities reports
// the summary that keygated logs at start and `keygated qualify` checks.
package pkcs11
