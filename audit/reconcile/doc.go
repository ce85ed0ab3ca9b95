// Package reconcile checks keygate's audit log against AWS CloudTrail: the
// KMS calls keygate recorded against the KMS events CloudTrail recorded,
// joined on the KMS request id (CloudTrail's requestID, the audit event's
// BackendRequestID) and, for a keygate call that never got a request id
// back (a timeout), on (operation, key ARN, time ± tolerance).
//
// Each record lands in one class (see Class): matched, mismatched, keygate
// only, pending (still inside CloudTrail's delivery delay), CloudTrail only
// on a key keygate manages (a bypass: the key used around keygate's policy),
// or CloudTrail only on a key keygate does not manage (unmanaged). Keys on
// PKCS#11 backends have no CloudTrail; the report lists them as such.
//
// Both sides stream: the window is walked in chunks (Options.Chunk), and
// only one chunk's keygate calls are held, so a quarter of a busy log
// reconciles in bounded memory. CloudTrail comes from a Source: LookupEvents
// (NewLookup) or the trail's log files in a directory or S3 (NewTrail).
package reconcile
