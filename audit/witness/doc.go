// Package witness publishes audit checkpoints outside the database, so
// that someone who can write the database cannot roll the log back
// unseen: an append-only file on other storage (File), an S3 bucket with
// Object Lock (S3), and the structured log a SIEM collects (Log). File and
// S3 can be read back: keygated refuses to start on a store older than
// them, and `keygate audit verify` compares the store against them.
package witness
