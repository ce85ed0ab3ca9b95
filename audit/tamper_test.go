package audit_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
)

// tampered is a 20-event chain with checkpoints at 10 and 20, ready for an
// attacker with write access to the database.
type tampered struct {
	t   *testing.T
	s   *sqlstore.Store
	pg  bool
	l   *audit.Log
	sig *ecSigner
}

func (x *tampered) exec(q string, args ...any) { x.t.Helper(); exec(x.t, x.s, x.pg, q, args...) }

func (x *tampered) event(seq uint64) *audit.Event {
	x.t.Helper()
	recs, err := x.s.Records(context.Background(), audit.Query{AfterSeq: seq - 1, Limit: 1})
	if err != nil || len(recs) != 1 || recs[0].Seq != seq {
		x.t.Fatalf("reading event %d: %v", seq, err)
	}
	e, err := audit.Decode(recs[0].Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return e
}

// rewrite stores e as event e.Seq, its columns matching its new content.
func (x *tampered) rewrite(e *audit.Event) [32]byte {
	body := audit.AppendCanonical(nil, e)
	x.exec("UPDATE audit_events SET body = ?, principal = ?, key_name = ?, result = ? WHERE seq = ?",
		body, x.id(e.Principal), x.id(e.KeyName), x.id(e.Result), int64(e.Seq))
	return sha256.Sum256(body)
}

// id is s's id in the store's string table, added if it is new.
func (x *tampered) id(s string) int64 {
	x.t.Helper()
	if s == "" {
		return 0
	}
	x.exec("INSERT INTO audit_strings (s) VALUES (?) ON CONFLICT (s) DO NOTHING", s)
	q := "SELECT id FROM audit_strings WHERE s = ?"
	if x.pg {
		q = "SELECT id FROM audit_strings WHERE s = $1"
	}
	var id int64
	if err := x.s.DB().QueryRowContext(context.Background(), q, s).Scan(&id); err != nil {
		x.t.Fatal(err)
	}
	return id
}

func TestTamperDetected(t *testing.T) {
	const evil = "arn:aws:iam::999999999999:role/attacker"
	cases := []struct {
		name   string
		tamper func(x *tampered)
		kind   audit.ProblemKind
		seq    uint64
	}{
		{"alter body", func(x *tampered) {
			e := x.event(7)
			e.Principal = evil
			x.exec("UPDATE audit_events SET body = ? WHERE seq = 7", audit.AppendCanonical(nil, e))
		}, audit.Altered, 7},
		{"alter body and hash", func(x *tampered) {
			e := x.event(7)
			e.Result = "OK"
			e.KeyName = "other-key"
			x.rewrite(e)
		}, audit.Altered, 7},
		{"alter query column", func(x *tampered) {
			x.exec("UPDATE audit_events SET principal = ? WHERE seq = 7", x.id(evil))
		}, audit.Altered, 7},
		{"delete one", func(x *tampered) { x.exec("DELETE FROM audit_events WHERE seq = 7") }, audit.Deleted, 7},
		{"delete range", func(x *tampered) {
			x.exec("DELETE FROM audit_events WHERE seq >= 7 AND seq <= 9")
		}, audit.Deleted, 7},
		{"reorder", func(x *tampered) {
			x.exec("UPDATE audit_events SET seq = 1000 WHERE seq = 7")
			x.exec("UPDATE audit_events SET seq = 7 WHERE seq = 8")
			x.exec("UPDATE audit_events SET seq = 8 WHERE seq = 1000")
		}, audit.Reordered, 7},
		{"insert", func(x *tampered) {
			forged := x.event(7)
			forged.Seq, forged.PrevHash, forged.Principal = 8, forged.Hash, evil
			body := audit.AppendCanonical(nil, forged)
			x.exec("UPDATE audit_events SET seq = seq + 1000 WHERE seq > 7")
			x.exec("UPDATE audit_events SET seq = seq - 999 WHERE seq > 1000")
			x.exec("INSERT INTO audit_events (seq, time_ns, kind, principal, action, key_name, result, body) VALUES (8, ?, ?, ?, ?, ?, ?, ?)",
				forged.Time.UnixNano(), x.id(string(forged.Kind)), x.id(forged.Principal), x.id(forged.Action), x.id(forged.KeyName), x.id(forged.Result), body)
			x.exec("UPDATE audit_head SET seq = seq + 1")
		}, audit.Inserted, 8},
		{"delete and renumber", func(x *tampered) {
			x.exec("DELETE FROM audit_events WHERE seq = 7")
			x.exec("UPDATE audit_events SET seq = seq - 1 WHERE seq > 7")
			x.exec("UPDATE audit_head SET seq = seq - 1")
		}, audit.Reordered, 7},
		{"rewrite history", func(x *tampered) {
			// Alter event 7 and relink everything after it: the chain is
			// consistent again, but no longer matches the signed heads.
			var prev [32]byte
			for seq := uint64(7); seq <= 20; seq++ {
				e := x.event(seq)
				if seq == 7 {
					e.Principal = evil
				} else {
					e.PrevHash = prev
				}
				prev = x.rewrite(e)
			}
			x.exec("UPDATE audit_head SET hash = ?", prev[:])
		}, audit.Rewritten, 10},
		{"forge checkpoint signature", func(x *tampered) {
			x.exec("UPDATE audit_checkpoints SET time_ns = time_ns + 1 WHERE seq = 10")
		}, audit.Forged, 10},
		{"checkpoint by another key", func(x *tampered) {
			other := newSigner(x.t)
			c := audit.Checkpoint{Seq: 20, Head: x.event(20).Hash, Time: time.Now(), KeyID: x.l.KeyID()}
			sig, _ := other.Sign(context.Background(), c.Digest())
			x.exec("DELETE FROM audit_checkpoints")
			x.exec("INSERT INTO audit_checkpoints (seq, head, time_ns, key_id, signature) VALUES (20, ?, ?, ?, ?)",
				c.Head[:], c.Time.UnixNano(), c.KeyID, sig)
		}, audit.Forged, 20},
		{"cut tail", func(x *tampered) {
			h := x.event(15).Hash
			x.exec("DELETE FROM audit_events WHERE seq > 15")
			x.exec("UPDATE audit_head SET seq = 15, hash = ?", h[:])
		}, audit.Cut, 16},
		{"cut tail, head row left", func(x *tampered) {
			record(x.t, x.l, 100, 3) // 21-23, unprotected
			x.exec("DELETE FROM audit_events WHERE seq > 21")
		}, audit.Cut, 22},
	}
	for _, b := range stores {
		for _, tc := range cases {
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				x := setupTampered(t, b)
				tc.tamper(x)
				r := verify(t, x.s, verifier(t, x.sig))
				p := r.First()
				if p == nil {
					t.Fatalf("tampering not detected: %+v", r)
				}
				if p.Kind != tc.kind || p.Seq != tc.seq {
					t.Fatalf("first problem %v; want %s at seq %d (all: %v)", p, tc.kind, tc.seq, r.Problems)
				}
				// One tampering, at most two findings (a swap is two moves;
				// a rewrite contradicts every later checkpoint).
				if len(r.Problems) > 2 {
					t.Fatalf("one tampering reported as %d problems: %v", len(r.Problems), r.Problems)
				}
				t.Logf("detected: %v (%d problems: %v)", p, len(r.Problems), r.Problems)
			})
		}
	}
}

func setupTampered(t *testing.T, b backend) *tampered {
	dsn := b.dsn(t)
	x := &tampered{t: t, s: openStore(t, dsn), pg: isPostgres(dsn), sig: newSigner(t)}
	x.l = newLog(t, x.s, x.sig, "r")
	record(t, x.l, 0, 10)
	checkpoint(t, x.l)
	record(t, x.l, 10, 10)
	checkpoint(t, x.l)
	if r := verify(t, x.s, verifier(t, x.sig)); !r.OK() || r.Protected != 20 {
		t.Fatalf("untouched chain does not verify: %+v", r)
	}
	return x
}

// Events after the last checkpoint are reported as unprotected; cutting
// them (and the head row with them) cannot be told from never having had
// them, which is why checkpoints are frequent.
func TestUnprotectedTail(t *testing.T) {
	x := setupTampered(t, stores[0])
	record(t, x.l, 100, 5) // 21-25
	r := verify(t, x.s, verifier(t, x.sig))
	if !r.OK() || r.Protected != 20 || r.Unprotected != 5 || r.UnprotectedSince.IsZero() {
		t.Fatalf("report %+v; want OK, protected to 20, 5 unprotected", r)
	}
	h := x.event(22).Hash
	x.exec("DELETE FROM audit_events WHERE seq > 22")
	x.exec("UPDATE audit_head SET seq = 22, hash = ?", h[:])
	r = verify(t, x.s, verifier(t, x.sig))
	if !r.OK() || r.Unprotected != 2 {
		t.Fatalf("report %+v; want OK with 2 unprotected", r)
	}
}

// The checkpointer verifies what it did not write itself: after tampering,
// a restarted log (or another replica) refuses to sign. The log that wrote
// the events signs its own head, which commits to what it wrote, so the
// tampering stays visible to Verify.
func TestCheckpointRefusesTamperedChain(t *testing.T) {
	x := setupTampered(t, stores[0])
	record(t, x.l, 100, 5) // 21-25
	e := x.event(23)
	e.Principal = "x"
	x.rewrite(e) // content and stored hash consistent; event 24's link breaks
	restarted := newLog(t, x.s, x.sig, "r2")
	if _, err := restarted.Checkpoint(context.Background()); err == nil {
		t.Fatal("a restarted log signed a tampered chain")
	} else {
		t.Logf("refused: %v", err)
	}
	if cps, _ := x.s.Checkpoints(context.Background(), 21, 1<<40); len(cps) != 0 {
		t.Fatalf("%d checkpoints after 20 were stored", len(cps))
	}
	c, err := x.l.Checkpoint(context.Background())
	if err != nil || c.Seq != 25 {
		t.Fatalf("the writing log's checkpoint: %+v, %v", c, err)
	}
	r := verify(t, x.s, verifier(t, x.sig))
	if p := r.First(); p == nil || p.Kind != audit.Altered || p.Seq != 23 {
		t.Fatalf("after signing its own head, verify reports %v; want altered at 23", p)
	}
}

// Deleting the very first event is one problem, at seq 1.
func TestDeleteFirstEvent(t *testing.T) {
	x := setupTampered(t, stores[0])
	x.exec("DELETE FROM audit_events WHERE seq = 1")
	r := verify(t, x.s, verifier(t, x.sig))
	if len(r.Problems) != 1 || r.Problems[0].Kind != audit.Deleted || r.Problems[0].Seq != 1 {
		t.Fatalf("problems %v; want exactly: deleted at 1", r.Problems)
	}
}
