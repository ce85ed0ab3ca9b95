package reconcile

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/keygate/keygate/audit"
)

// StoreAudit reads keygate's events from an audit store (offline: --db).
func StoreAudit(s audit.Store) AuditSource {
	return func(ctx context.Context, since, until time.Time, fn func(*audit.Event) error) error {
		q := audit.Query{Since: since, Until: until, Limit: audit.MaxLimit}
		for {
			evs, err := audit.Events(ctx, s, q)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if err := fn(e); err != nil {
					return err
				}
				q.AfterSeq = e.Seq
			}
			if len(evs) < q.Limit {
				return nil
			}
		}
	}
}

// ArchiveAudit reads keygate's events from an exported archive (offline:
// --archive). Verify the archive first (keygate audit verify --archive):
// this reads the canonical bodies and trusts them.
func ArchiveAudit(path string) AuditSource {
	return func(ctx context.Context, since, until time.Time, fn func(*audit.Event) error) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return readArchive(f, since, until, fn)
	}
}

func readArchive(r io.Reader, since, until time.Time, fn func(*audit.Event) error) error {
	return audit.ReadArchive(r, func(e *audit.Event) error {
		if e.Time.Before(since) || !e.Time.Before(until) {
			return nil
		}
		return fn(e)
	})
}

// KeysFromLog reconstructs the managed keys from the log itself, for an
// offline run with no key registry at hand: every key.created event names
// its key and backend key (a KMS key ARN, or a PKCS#11 id). Keys created
// before the log's pruned base are not seen; name them with the server.
func KeysFromLog(ctx context.Context, src AuditSource) ([]Key, error) {
	byName := map[string]*Key{}
	var order []string
	err := src(ctx, time.Unix(0, 0), time.Now().Add(24*time.Hour), func(e *audit.Event) error {
		if e.Kind != audit.KindKeyCreated || e.KeyName == "" {
			return nil
		}
		k := byName[e.KeyName]
		if k == nil {
			k = &Key{Name: e.KeyName, Backend: "pkcs11"}
			byName[e.KeyName] = k
			order = append(order, e.KeyName)
		}
		if isKeyARN(e.BackendKeyID) {
			k.KMS, k.Backend = true, "kms"
			k.ARNs = append(k.ARNs, e.BackendKeyID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Key, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out, nil
}
