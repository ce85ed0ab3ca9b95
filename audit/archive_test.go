package audit_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
)

var t0 = time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)

// recordAt records n events at t, t+1m...
func recordAt(t *testing.T, l *audit.Log, from, n int, at time.Time) {
	t.Helper()
	for i := range n {
		e := callEvent(l, from+i)
		e.Time = at.Add(time.Duration(i) * time.Minute)
		if err := l.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
}

func publicPEM(t *testing.T, s audit.Signer) []byte {
	der, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestArchiveExportVerifyPrune(t *testing.T) {
	for _, b := range stores {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			s := openStore(t, dsn)
			sig := newSigner(t)
			v := verifier(t, sig)
			l := newLog(t, s, sig, "r")
			recordAt(t, l, 0, 10, t0) // 1-10: January 2025
			checkpoint(t, l)
			recordAt(t, l, 10, 10, t0.AddDate(0, 2, 0)) // 11-20: March
			checkpoint(t, l)
			recordAt(t, l, 20, 5, t0.AddDate(0, 5, 0)) // 21-25: June, unprotected

			var first bytes.Buffer
			info, err := audit.Export(ctx, s, v, t0.AddDate(0, 1, 0), &first)
			if err != nil {
				t.Fatal(err)
			}
			if info.Base.Seq != 0 || info.Through.Seq != 10 || info.Events != 10 {
				t.Fatalf("first archive %+v; want events 1-10", info)
			}
			rep, got, err := audit.VerifyArchive(bytes.NewReader(first.Bytes()), v)
			if err != nil || !rep.OK() || got.Through != info.Through || got.Events != 10 {
				t.Fatalf("untouched archive: %+v %+v %v", rep, got, err)
			}
			checkTamperedArchives(t, first.String(), v)

			if _, err := audit.Prune(ctx, s, bytes.NewReader(tamperLine(first.String(), 5)), v); err == nil {
				t.Fatal("Prune accepted a tampered archive")
			}
			if _, err := audit.Prune(ctx, s, bytes.NewReader(first.Bytes()), v); err != nil {
				t.Fatal(err)
			}
			r := verify(t, s, v)
			if !r.OK() || r.Base.Seq != 10 || r.Events != 15 || r.Protected != 20 {
				t.Fatalf("after prune: %+v (%v)", r, r.First())
			}
			if evs, _ := audit.Events(ctx, s, audit.Query{}); len(evs) != 15 || evs[0].Seq != 11 {
				t.Fatalf("after prune the store starts at %d with %d events", evs[0].Seq, len(evs))
			}

			// The next segment starts at the pruned base, anchored by the
			// checkpoint at 10, and ends at the checkpoint at 20.
			var second bytes.Buffer
			info, err = audit.Export(ctx, s, v, t0.AddDate(1, 0, 0), &second)
			if err != nil || info.Base.Seq != 10 || info.Through.Seq != 20 {
				t.Fatalf("second archive %+v, %v; want events 11-20", info, err)
			}
			if rep, _, err := audit.VerifyArchive(&second, v); err != nil || !rep.OK() {
				t.Fatalf("second archive: %+v %v", rep, err)
			}

			// An auditor verifies the database with the public key alone.
			l.Close(ctx)
			r, err = sqlstore.Verify(ctx, strings.TrimPrefix(dsn, sharedPrefix), publicPEM(t, sig))
			if err != nil || !r.OK() || r.Head.Seq != 25 {
				t.Fatalf("offline verify: %+v %v", r, err)
			}

			// Moving the base forward (hiding events 11-14 as if pruned)
			// leaves it without a signed checkpoint.
			h := (&tampered{t: t, s: s}).event(14).Hash
			exec(t, s, isPostgres(dsn), "DELETE FROM audit_events WHERE seq <= 14")
			exec(t, s, isPostgres(dsn), "UPDATE audit_head SET base_seq = 14, base_hash = ?", h[:])
			if p := verify(t, s, v).First(); p == nil || p.Kind != audit.Unanchored || p.Seq != 14 {
				t.Fatalf("base moved without an archive: first problem %v, want unanchored at 14", p)
			}
		})
	}
}

// tamperLine changes the principal in the readable copy of archive line i.
func tamperLine(archive string, i int) []byte {
	lines := strings.Split(archive, "\n")
	lines[i] = strings.Replace(lines[i], `role/acs`, `role/xxx`, 1)
	return []byte(strings.Join(lines, "\n"))
}

func checkTamperedArchives(t *testing.T, archive string, v *audit.Verifier) {
	lines := strings.Split(strings.TrimSuffix(archive, "\n"), "\n")
	// lines: header, checkpoint at 10, events 1-10 (lines 2-11).
	drop := func(i int) string {
		return strings.Join(append(append([]string{}, lines[:i]...), lines[i+1:]...), "\n")
	}
	for _, tc := range []struct {
		name    string
		archive string
		kind    audit.ProblemKind
	}{
		{"readable copy altered", string(tamperLine(archive, 5)), audit.Altered},
		{"event dropped", drop(6), audit.Deleted},
		{"last event dropped", drop(11), audit.Cut},
		{"checkpoint dropped", drop(1), audit.Unanchored},
	} {
		rep, _, err := audit.VerifyArchive(strings.NewReader(tc.archive), v)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p := rep.First(); p == nil || p.Kind != tc.kind {
			t.Errorf("%s: first problem %v, want %s", tc.name, p, tc.kind)
		}
	}
}

// Follow delivers the backlog, then new events as they are committed.
func TestFollow(t *testing.T) {
	s := openStore(t, stores[0].dsn(t))
	l := newLog(t, s, newSigner(t), "r")
	record(t, l, 0, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan uint64, 100)
	done := make(chan error, 1)
	go func() {
		done <- l.Follow(ctx, audit.Query{AfterSeq: 1, KeyName: "key-1"}, time.Hour, func(e *audit.Event) error {
			got <- e.Seq
			return nil
		})
	}()
	if seq := <-got; seq != 2 { // backlog: event 2 is the only key-1 event after 1
		t.Fatalf("first followed event %d, want 2", seq)
	}
	record(t, l, 3, 3) // 4,5,6: key-1 is event 5
	if seq := <-got; seq != 5 {
		t.Fatalf("followed event %d, want 5", seq)
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("Follow returned %v after cancel", err)
	}
}

// After an audit key rotation, a verifier given both public keys (one PEM
// file, current first) accepts checkpoints by either; one given only the
// new key reports the old checkpoints as forged.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	dsn := stores[0].dsn(t)
	s := openStore(t, dsn)
	oldKey, newKey := newSigner(t), newSigner(t)
	l := newLog(t, s, oldKey, "r")
	record(t, l, 0, 5)
	l.Close(ctx)
	l = newLog(t, s, newKey, "r")
	record(t, l, 5, 5)
	l.Close(ctx)
	both := append(publicPEM(t, newKey), publicPEM(t, oldKey)...)
	r, err := sqlstore.Verify(ctx, dsn, both)
	if err != nil || !r.OK() || r.Protected != 10 || r.Checkpoints != 2 {
		t.Fatalf("with both keys: %+v %v", r, err)
	}
	r, err = sqlstore.Verify(ctx, dsn, publicPEM(t, newKey))
	if err != nil || r.First() == nil || r.First().Kind != audit.Forged || r.First().Seq != 5 {
		t.Fatalf("with the new key only: first problem %v, %v; want forged at 5", r.First(), err)
	}
}
