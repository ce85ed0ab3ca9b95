// Package audit is keygate's tamper-evident audit log: the event every
// call and administrative change produces, the hash chain that links the
// events, checkpoints signed by a key held in a backend, group commit, and
// verification that someone who does not trust the writer can run offline.
//
// # Wiring (server)
//
//	store, _ := sqlstore.Open(ctx, "/var/lib/keygate/audit.db") // or a postgres:// URL
//	log, _ := audit.New(audit.Config{
//		Store: store, Signer: auditKey, // a backends.Key (ECC_NIST_P256, ECDSA_SHA_256) adapted to audit.Signer
//		ContextSecret: secret,          // >= 32 bytes, from the server's secret config
//		Replica: hostname,
//	})
//	defer log.Close(ctx)
//	...
//	ev := &audit.Event{Kind: audit.KindCall, Principal: arn, Action: "kms:Sign", KeyName: name,
//		Context: log.HashContext(req.EncryptionContext), Result: audit.ResultOK, ...}
//	if err := log.Record(ctx, ev); err != nil {
//		return nil, err // kgerr.Unavailable: fail closed, do not answer with the result
//	}
//
// Record returns once the event is committed. Concurrent Records share one
// transaction: a single writer goroutine commits whatever accumulated
// while the previous commit ran. Event values should be allocated per call
// and not reused until Record returns.
//
// # The chain
//
// Each event's canonical encoding (EncodingVersion 1, defined on
// AppendCanonical) holds its seq and the SHA-256 of the previous event's
// encoding; the first event's previous hash is 32 zero bytes. Stores keep
// the encoding itself, so the hash is recomputed from exactly what is
// stored. The queryable columns beside it are copies that Verify checks.
//
// # Checkpoints
//
// Every Config.CheckpointEvery events or Config.CheckpointInterval, and on
// Close, the log signs (seq, head hash, time, key id) with the Signer. It
// vouches only for links it checked: its own uninterrupted run of batches
// (made under the head lock), or else the chain read back from the store
// and verified from the last valid checkpoint. Someone with write access
// to the database can still append well-formed events after the last
// checkpoint, or cut them: Verify reports those events as unprotected,
// with the time of the first one, and the checkpoint interval bounds how
// many there can be. A chain shorter than a checkpoint's count is "cut".
//
// Checkpoints chain: each names the digest of the one before it and a
// counter (EncodeCheckpoint), so the newest checkpoints cannot be removed
// without the counter going back. Config.Witnesses get a copy of each
// once it is stored (package audit/witness: a file, S3 with Object Lock, a
// log line); CheckWitnesses finds a store older than a witness, which
// keygated refuses to start on. An idle log signs its unchanged head once
// per interval, so VerifyOptions.MaxAge can flag checkpointing that stopped.
//
// # Verification
//
// Verify (online, over any Store) and sqlstore.Verify (offline, from a
// database file or DSN and the checkpoint public key PEM) name the first
// broken place: an event altered (content, stored hash or query column),
// deleted, reordered or inserted, a checkpoint forged (bad signature or
// another key), history rewritten (a consistent chain that disagrees with
// a signed checkpoint), or the tail cut.
//
// # Several replicas
//
// Replicas sharing one PostgreSQL share one chain: Append locks the head
// row (SELECT ... FOR UPDATE), so batches from different processes
// interleave without forking the chain. Each replica checkpoints the
// shared head; a valid checkpoint of the same head is not repeated.
//
// # Retention
//
// Export writes a verifiable segment (JSON lines), VerifyArchive checks it
// offline and Prune deletes only what a verified archive covers. See
// RETENTION.md for the PCI DSS 10.5.1 procedure.
package audit
