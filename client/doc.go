// Package client is the Go client of keygate, for the services that embed
// it: an ACS, a 3DS Server, a Directory Server.
//
// Dial connects over mutual TLS with the defaults a production caller
// wants: keepalive, a deadline on every call that has none, an
// x-request-id per call (the audit log's correlation id), and retries with
// jittered backoff — only for Unavailable and ResourceExhausted, and only
// for calls that are safe to repeat (the 3DS challenge calls advance
// counters and administrative changes are not repeated).
//
// On top of the generated stubs it gives what callers otherwise write
// themselves:
//
//   - Signer: a crypto.Signer backed by a keygate key, usable unchanged by
//     crypto/x509 (CSRs, certificates), crypto/tls and go-jose (JWS);
//   - Decrypter: a crypto.Decrypter for RSA-OAEP keys;
//   - Seal and Open: envelope encryption under GenerateDataKey, for PAN
//     storage, with the data key zeroed after use;
//   - typed helpers over ThreeDSService.
//
// The caller's own mTLS key may stay in a PKCS#11 token or smart card:
// WithTLSSigner takes a client/pkcs11key.Key (or any crypto.Signer) in
// place of a key file.
//
// The key material never reaches the client: signatures, decryptions and
// data keys are made by keygate's backends.
package client
