// Package security is the suite an attacker would run against keygated:
// for every service, bad inputs (oversized and odd-character values in
// every string field, generated from the API's own descriptors, and
// hand-written requests that misuse keys, algorithms and rights), each with
// the gRPC code and message it must get, and a check that the key registry
// did not change. It runs against a real keygated (SoftHSM2, SQLite, mTLS)
// started by test/harness.
package security
