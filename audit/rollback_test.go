package audit_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/witness"
	"github.com/keygate/keygate/test/s3server"
)

// witnesses are a file and an S3 bucket with Object Lock, both outside
// the database.
func witnesses(t *testing.T) []audit.WitnessReader {
	srv := s3server.New(t)
	srv.CreateBucket("keygate-witness", true)
	c := s3.New(s3.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	w3, err := witness.NewS3Client(c, witness.S3Config{Bucket: "keygate-witness", Prefix: "audit/"})
	if err != nil {
		t.Fatal(err)
	}
	return []audit.WitnessReader{witness.NewFile(filepath.Join(t.TempDir(), "witness.jsonl")), w3}
}

func witnessedLog(t *testing.T, s audit.Store, sig audit.Signer, ws []audit.WitnessReader) *audit.Log {
	cfg := audit.Config{Store: s, Signer: sig, ContextSecret: secret, Replica: "r",
		CheckpointEvery: 1 << 30, CheckpointInterval: time.Hour}
	for _, w := range ws {
		cfg.Witnesses = append(cfg.Witnesses, w)
	}
	l, err := audit.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

// The defect of issue 11 item 2: delete the events and checkpoints after
// checkpoint 10 of 25 and reset the head. The store alone still verifies
// (a consistent, shorter, signed history); the witnesses show the rollback,
// and CheckWitnesses (keygated's start) refuses it.
func TestRollbackToAnOlderCheckpointIsDetected(t *testing.T) {
	for _, b := range stores {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := b.dsn(t)
			s := openStore(t, dsn)
			sig := newSigner(t)
			ws := witnesses(t)
			l := witnessedLog(t, s, sig, ws)
			var at10 audit.Checkpoint
			for i := 1; i <= 25; i++ {
				record(t, l, 4*i, 4)
				c, err := l.Checkpoint(ctx)
				if err != nil || c.Counter != uint64(i) {
					t.Fatalf("checkpoint %d: #%d, %v", i, c.Counter, err)
				}
				if i == 10 {
					at10 = c
				}
			}
			v := verifier(t, sig)
			if r, _ := audit.VerifyWith(ctx, s, v, audit.VerifyOptions{Witnesses: ws}); !r.OK() || r.Protected != 100 {
				t.Fatalf("before the rollback: %v, protected %d", r.Err(), r.Protected)
			}
			l.Close(ctx)

			pg := isPostgres(dsn)
			exec(t, s, pg, "DELETE FROM audit_events WHERE seq > ?", int64(at10.Seq))
			exec(t, s, pg, "DELETE FROM audit_checkpoints WHERE counter > 10")
			exec(t, s, pg, "UPDATE audit_head SET seq = ?, hash = ?", int64(at10.Seq), at10.Head[:])

			if r := verify(t, s, v); !r.OK() {
				t.Fatalf("the store alone should look intact after a rollback (that is the defect); got %v", r.Err())
			}
			r, err := audit.VerifyWith(ctx, s, v, audit.VerifyOptions{Witnesses: ws})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Problems) != 2 || r.Problems[0].Kind != audit.RolledBack || r.Problems[1].Kind != audit.RolledBack {
				t.Fatalf("with the witnesses: %+v, want rolled-back from both", r.Problems)
			}
			for _, p := range r.Problems {
				if !strings.Contains(p.Msg, "newest checkpoint is #10") || !strings.Contains(p.Msg, "holds #25") {
					t.Errorf("problem does not say what was rolled back: %s", p.Msg)
				}
			}
			problems, err := audit.CheckWitnesses(ctx, s, v, ws)
			if err != nil || len(problems) != 2 {
				t.Fatalf("CheckWitnesses: %v %v", problems, err)
			}
		})
	}
}

// Checkpoints replaced with ones re-signed by the (stolen) key at the same
// counters but another history are not the witness's.
func TestWitnessCatchesReplacedCheckpoint(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, stores[0].dsn(t))
	sig := newSigner(t)
	ws := witnesses(t)[:1]
	l := witnessedLog(t, s, sig, ws)
	record(t, l, 0, 5)
	checkpoint(t, l)
	l.Close(ctx)
	exec(t, s, false, "UPDATE audit_checkpoints SET time_ns = time_ns + 1 WHERE counter = (SELECT MAX(counter) FROM audit_checkpoints)")
	problems, err := audit.CheckWitnesses(ctx, s, verifier(t, sig), ws)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].Msg, "does not hold the witness's checkpoint") {
		t.Fatalf("CheckWitnesses: %+v %v", problems, err)
	}
}

// Removing a checkpoint from the middle breaks the checkpoint chain.
func TestMissingCheckpointBreaksTheCheckpointChain(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, stores[0].dsn(t))
	sig := newSigner(t)
	l := newLog(t, s, sig, "r")
	for i := range 4 {
		record(t, l, 3*i, 3)
		checkpoint(t, l)
	}
	l.Close(ctx)
	exec(t, s, false, "DELETE FROM audit_checkpoints WHERE counter = 2")
	r := verify(t, s, verifier(t, sig))
	if p := r.First(); p == nil || p.Kind != audit.CheckpointMissing || !strings.Contains(p.Msg, "#2 to #2") {
		t.Fatalf("first problem %v, want checkpoint #2 missing", p)
	}
}

// The newest checkpoint older than the interval plus slack is flagged;
// an idle log keeps signing its unchanged head so that it is not.
func TestStaleNewestCheckpoint(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, stores[0].dsn(t))
	sig := newSigner(t)
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	l, err := audit.New(audit.Config{Store: s, Signer: sig, ContextSecret: secret, Replica: "r",
		CheckpointEvery: 1 << 30, CheckpointInterval: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	record(t, l, 0, 3)
	checkpoint(t, l)
	v := verifier(t, sig)
	opts := audit.VerifyOptions{MaxAge: time.Hour + 5*time.Minute, Now: clock}
	if r, _ := audit.VerifyWith(ctx, s, v, opts); !r.OK() {
		t.Fatalf("fresh: %v", r.Err())
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	r, _ := audit.VerifyWith(ctx, s, v, opts)
	if p := r.First(); p == nil || p.Kind != audit.Stale {
		t.Fatalf("two hours on: %v, want stale", r.Problems)
	}
	// The scheduled checkpoint of an idle log signs the same head again.
	c, err := l.Checkpoint(ctx)
	if err != nil || c.Counter != 2 || c.Seq != 3 {
		t.Fatalf("heartbeat checkpoint: #%d seq %d, %v", c.Counter, c.Seq, err)
	}
	if c, _ := l.Checkpoint(ctx); c.Counter != 0 {
		t.Fatalf("a fresh checkpoint of the same head was repeated: #%d", c.Counter)
	}
	if r, _ := audit.VerifyWith(ctx, s, v, opts); !r.OK() {
		t.Fatalf("after the heartbeat: %v", r.Err())
	}
}

// Replicas checkpointing one PostgreSQL chain at once never fork the
// checkpoint chain: one wins each counter, the other chains after it.
func TestConcurrentCheckpointsDoNotFork(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, stores[1].dsn(t))
	sig := newSigner(t)
	a, b := newLog(t, s, sig, "a"), newLog(t, s, sig, "b")
	var wg sync.WaitGroup
	for _, l := range []*audit.Log{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				record(t, l, i, 2)
				if _, err := l.Checkpoint(ctx); err != nil {
					t.Errorf("Checkpoint: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if r := verify(t, s, verifier(t, sig)); !r.OK() || r.Unprotected != 0 {
		t.Fatalf("after concurrent checkpoints: %v, unprotected %d", r.Err(), r.Unprotected)
	}
}
