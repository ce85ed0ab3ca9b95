// Package report builds the evidence pack a compliance team hands to the
// PCI assessor (`keygate report`): one self-contained index.html mapped to
// PCI DSS v4.0 requirements, the same data as CSV files, and a
// manifest.json with each file's SHA-256, signed by the audit checkpoint
// key so that `keygate report verify` (or openssl) proves the pack whole.
//
// The data comes in through Input (the key registry, the configured
// principals, the log's verification, optionally a CloudTrail
// reconciliation) and a stream of audit events (Builder.Add), aggregated
// as they pass: a quarter of a busy log is not held in memory, only its
// counts and its denial and change rows.
package report
