package server

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
)

// verifyRow is the keyring's Options.Verify: a key row read from the
// store must match the digest the audit chain last recorded for it. Every
// change keygated makes commits that digest with the change (journal.go),
// so a row that does not match was written behind keygated's back: a
// direct database edit of a policy must not grant anything.
func (s *Server) verifyRow(ctx context.Context, k *keys.Key, digest string) error {
	if s.auditStore == nil {
		// Audit disabled: there is no chain to hold the digest. (While
		// the log opens, openAudit checks the checkpoint key itself.)
		return nil
	}
	return s.checkRow(ctx, s.auditStore, k, digest)
}

func (s *Server) checkRow(ctx context.Context, chain audit.Store, k *keys.Key, digest string) error {
	recorded, seq, err := audit.LastRegistryDigest(ctx, chain, k.Name)
	if err != nil {
		return kgerr.Wrap(kgerr.Unavailable, err, fmt.Sprintf("key %q: the audit log cannot be read to check the key's row", k.Name))
	}
	if recorded == digest {
		return nil
	}
	var rev int64
	if _, err := fmt.Sscanf(recorded, "revision %d ", &rev); err == nil && rev > k.Revision {
		// Read just before a change committed with its newer digest.
		return kgerr.Wrap(kgerr.Unavailable, keyring.ErrStaleRead, fmt.Sprintf("key %q changed while it was read; retry", k.Name))
	}
	why := fmt.Sprintf("the audit log's last change to it (seq %d) recorded %s", seq, recorded)
	if recorded == "" {
		why = "the audit log records no change that made it"
	}
	s.rowAlarm.once(k.Name+digest, func() {
		s.log.Error("KEY REGISTRY ROW CHANGED OUTSIDE KEYGATE: refusing the key", "key", k.Name,
			"row", digest, "recorded", recorded, "recorded_seq", seq)
	})
	return kgerr.Errorf(kgerr.Unavailable, "key %q is refused: its stored row (%s) was changed outside keygate; %s", k.Name, digest, why)
}

// RegistryProblems checks every key row in store against the digest the
// chain last recorded for it, for `audit verify`.
func RegistryProblems(ctx context.Context, store keys.Store, chain audit.Store) ([]audit.Problem, error) {
	var out []audit.Problem
	err := keys.EachKey(ctx, store, func(k *keys.Key) error {
		recorded, seq, err := audit.LastRegistryDigest(ctx, chain, k.Name)
		if err != nil {
			return err
		}
		if d := keys.RowDigest(k); d != recorded {
			msg := fmt.Sprintf("key %q: stored row %s does not match the last recorded change (seq %d: %s)", k.Name, d, seq, recorded)
			if recorded == "" {
				msg = fmt.Sprintf("key %q: stored row %s has no recorded change in the log", k.Name, d)
			}
			out = append(out, audit.Problem{Kind: audit.Registry, Seq: seq, Msg: msg})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// alarmOnce runs a loud log line once per subject, not once per call.
type alarmOnce struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (a *alarmOnce) once(subject string, f func()) {
	a.mu.Lock()
	first := !a.seen[subject]
	if a.seen == nil {
		a.seen = map[string]bool{}
	}
	a.seen[subject] = true
	a.mu.Unlock()
	if first {
		f()
	}
}

// anchorRegistry records, before an archive is exported, every key row's
// digest again (one event per key), after the archive's end: `audit
// prune` then deletes only archived events, and the digests the keyring
// checks rows against stay in the chain. A row that does not match the
// chain now is not anchored: it stays refused.
func (s *Server) anchorRegistry(ctx context.Context, why string) error {
	return keys.EachKey(ctx, s.keyStore, func(k *keys.Key) error {
		err := s.keyStore.WithKey(ctx, k.Name, func(tx *sql.Tx, k *keys.Key) error {
			d := keys.RowDigest(k)
			if recorded, _, err := audit.LastRegistryDigest(ctx, s.auditStore, k.Name); err != nil || recorded != d {
				return err // nil when it does not match: not anchored, VerifyLog names it
			}
			link, err := s.chain.log.Stage(&audit.Event{Kind: audit.KindCall, Replica: s.chain.replica, Principal: "keygated",
				Action: "keygate:RegistryAnchor", KeyName: k.Name, Result: audit.ResultOK, Detail: audit.RegistryDetail(why, d)})
			if err != nil {
				return err
			}
			_, err = s.auditStore.AppendTx(ctx, tx, link)
			return err
		})
		if kgerr.KindOf(err) == kgerr.NotFound {
			return nil // deleted since the page was read
		}
		return err
	})
}
