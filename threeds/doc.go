// Package threeds is keygate's EMV 3-D Secure cryptography (app-based flow)
// on top of any backend key (backends.Key): what an ACS and a DS call
// keygate for. The exact rules are in DESIGN.md section 1; every piece is
// checked against EMVCo's "3-D Secure App-based Crypto Worked Samples"
// (testdata/).
//
// # Pieces
//
//   - ConcatKDF is NIST SP 800-56A's one-step KDF with SHA-256 (the server's
//     DeriveSharedSecret reuses it); KDF3DS is the 3DS form: AlgorithmID and
//     PartyUInfo empty, PartyVInfo = SDK Reference Number or DS ID, always
//     256 bits. It is not JOSE's ECDH-ES.
//   - ParsePeerKey validates an SDK ephemeral key (or an epk) before any
//     ECDH: EC, P-256, 32-byte x and y, on the curve, no private part, no
//     duplicate members.
//   - SignACSContent builds acsSignedContent: ES256 (raw r||s from the
//     backend's DER) or PS256 (32-byte salt), x5c = the key version's chain,
//     the SDK's JWK placed byte for byte as received. The leaf must certify
//     the key, and the signature is verified before it is returned.
//   - CreateSession makes the ACS ephemeral P-256 key in Go memory (it never
//     leaves the function that derives the CEK), does ECDH and KDF3DS, and
//     signs; DecryptCReq and EncryptCRes protect the challenge messages.
//   - DecryptSdkEncData decrypts device data for the DS: RSA-OAEP-256 (the
//     backend unwraps the CEK) or ECDH-ES (the backend does ECDH, then
//     KDF3DS with the DS ID; A128GCM uses CEK[0:16]); with
//     SdkEncOptions.AllowDirEPK also Stripe Android's {"alg":"dir","epk"}
//     form of the same ECDH-ES.
//   - limits.go holds every message bound, from EMV 3DS 2.3.1's figures.
//   - VerifyX5CJWS verifies a JWS with an x5c chain against trust anchors
//     (EMVCo samples 5-6 are its vectors); VerifySdkServerSignedContent is
//     the DS's 2.3.1 check of a Split-SDK server's signed content with it.
//   - ComputeHOTP and OTPs are RFC 4226 HOTP and RFC 6238 TOTP over a
//     backend HMAC key, with a look-ahead window and replay refusal kept in
//     an OTPStore.
//   - KeyMeta keeps the kids of DS key versions (sdkEncData's kid picks the
//     version) and ACS chains by Directory Server. sqlschema.go creates
//     every 3DS table.
//
// # Challenge sessions
//
// A Session holds acsTransID, enc, the 32-byte CEK, the expiry and two
// counters: the sdkCounterStoA the next CReq must carry and the
// acsCounterAtoS the next CRes gets. A128CBC-HS256 uses the whole CEK in both
// directions (MAC key = bytes 0-15, AES key = 16-31) and, for a CRes, a
// random IV. A128GCM uses CEK[0:16] SDK→ACS with IV 00×11 ‖ sdkCounterStoA
// and CEK[16:32] ACS→SDK with IV FF×11 ‖ acsCounterAtoS. A CReq must carry
// exactly the expected counter (lower: replayed; higher: out of order) and
// neither counter goes past 255. An expired session is FailedPrecondition;
// every tag, padding or key-unwrap failure is one InvalidArgument with the
// fixed DecryptFailedMsg.
//
// Session functions take a Session value and return an updated copy, so the
// counters can be committed by compare-and-swap. Sessions (the type) does
// that for a server:
//
//   - the immutable state (id, acsTransID, enc, CEK, expiry) is sealed with
//     SealSession: Encrypt under a SYMMETRIC_DEFAULT backend key, encryption
//     context {SealContextKey: session id}, so the CEK is never outside the
//     backend's protection at rest and a blob cannot be moved to another id;
//   - the sealed blob, the sealing key's id, the counters and the expiry go
//     into a SessionStore shared by all replicas (SQL in production,
//     MemoryStore in tests; storetest is the contract);
//   - each CReq/CRes: Get, OpenSession, decrypt or encrypt, then
//     Update(old counters → new). If only the other direction's counter
//     moved meanwhile (a CRes racing a CReq on another replica), the update
//     is retried; if this direction's counter moved, another replica used
//     that value: the CReq is refused as replayed, the CRes is discarded (an
//     A128GCM IV is never released twice).
//
// The caller's handle is the session id (128 random bits, 22 characters of
// base64url, CheckSessionID); the CEK never leaves keygate, not even sealed. Any replica with the store and the
// sealing key serves any session, across restarts, until the expiry
// (Sessions.MaxTTL unless the request asks for less; more is refused);
// DeleteExpired clears the store. A session is sealed with its owner, the
// principal that created it; any other is told it does not exist. The
// stored counters carry a MAC under a key derived from the CEK
// (countermac.go), so a reset counter is refused rather than reusing an
// A128GCM IV.
//
// # EMVCo samples used
//
// Examples 1-4 (device data, RSA and EC DS keys, CBC and GCM), 5-6 (ACS
// signed content: header and payload reproduced byte for byte, the sample
// signature verified over them), 7-8 (session key). The stored reference
// holds no values for Examples 9-12 (CReq/CRes), so those directions are
// proven by round trips against an SDK written independently in the tests.
package threeds
