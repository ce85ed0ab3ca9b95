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
//     module stays initialised, so a re-initialisation makes every key find
//     its object again by CKA_ID before its next use.
//   - Object handles are cached: a key is found by CKA_ID once, at Open; a
//     C_FindObjects per call cuts SoftHSM's throughput several-fold.
package pkcs11
