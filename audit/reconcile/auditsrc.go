package reconcile

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		var line struct {
			Type string `json:"type"`
			Body []byte `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("archive line %d: %w", n, err)
		}
		if line.Type != "event" {
			continue
		}
		e, err := audit.Decode(line.Body)
		if err != nil {
			return fmt.Errorf("archive line %d: %w", n, err)
		}
		if e.Time.Before(since) || !e.Time.Before(until) {
			continue
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return sc.Err()
}
