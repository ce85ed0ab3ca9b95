package faults

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/pgtest"
)

// PostgreSQL stops under two keygated replicas sharing it, each under
// load, and starts again on the same data: during the outage both refuse
// calls Unavailable and say NOT_SERVING; once it is back both say SERVING
// and answer again without a restart; the one chain they share has no
// gap, duplicate or fork, and every answered call is in it. Once with a
// fast shutdown (clients told, a clean stop), once immediate (a crash as
// far as the clients can tell; PostgreSQL recovers from its WAL).
func TestPostgresRestart(t *testing.T) {
	pg := pgtest.New(t)
	dsn := pg.DSN(t)
	env := harness.Start(t, harness.Options{Store: &server.StoreConfig{Driver: "postgres", DSN: dsn}})
	env.CreateKey("pg-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	stopInProcess(t, env)
	logs := &lineCounter{}
	env.ProcessLog = logs
	replicas := []*harness.Process{
		// Checkpoints every 100 events, so both replicas sign some
		// before the outage and after it.
		env.StartProcess(func(c *server.Config) { c.Audit.Replica, c.Audit.CheckpointEvery = "replica-a", 100 }),
		env.StartProcess(func(c *server.Config) { c.Audit.Replica, c.Audit.CheckpointEvery = "replica-b", 100 }),
	}
	for _, immediate := range []bool{false, true} {
		mode := map[bool]string{false: "fast", true: "immediate"}[immediate]
		var loads []*load
		for _, p := range replicas {
			loads = append(loads, startLoad(t, pb.NewCryptoServiceClient(env.ProcessConn(p, "acs")), "pg-signing", 8, 10*time.Second))
		}
		for _, l := range loads {
			l.waitAnswered(100)
		}
		lines := logs.n.Load()
		pg.Stop(t, immediate)
		for i, p := range replicas {
			waitHealth(t, env, p, healthpb.HealthCheckResponse_NOT_SERVING)
			loads[i].waitRefused(loads[i].bad.Load() + int64(scale(200, 5000)))
		}
		linesDuring := int(logs.n.Load() - lines)
		pg.Start(t)
		back := time.Now()
		headAtRestart := chainHead(t, dsn)
		var rec time.Duration
		for i, p := range replicas {
			rec = max(rec, loads[i].recovered(back))
			waitHealth(t, env, p, healthpb.HealthCheckResponse_SERVING)
		}
		var answered []string
		refused := map[codes.Code]int{}
		for _, l := range loads {
			l.waitAnswered(l.ok.Load() + 100)
			l.end()
			a, r := l.snapshot()
			answered = append(answered, a...)
			for c, n := range r {
				refused[c] += n
			}
		}
		for i, p := range replicas {
			if p.ExitCode() != -1 {
				t.Fatalf("replica %d exited during the outage", i)
			}
		}
		for c, n := range refused {
			if c != codes.Unavailable {
				t.Errorf("%s stop: %d calls refused %s, want only Unavailable", mode, n, c)
			}
		}
		checkChain(t, dsn, headAtRestart)
		peak := max(replicas[0].PeakRSS(), replicas[1].PeakRSS())
		record(row{fault: fmt.Sprintf("PostgreSQL %s stop, 2 replicas", mode), answered: len(answered), refused: refused,
			lost: lost(t, env, replicas[0], "kms:Sign", answered), recovery: rec, rssMB: peak >> 20, logLines: linesDuring})
		if peak > maxRSS {
			t.Errorf("peak RSS %d MB, over 150 MB", peak>>20)
		}
	}
}

// checkChain reads the shared chain straight from PostgreSQL: one row per
// sequence number from the base to the head, none twice, none missing,
// the head row naming the newest, and a checkpoint signed past since
// (checkpointing resumed). VerifyLog (in lost) checks the hash links,
// which a fork would break, and the checkpoints' signatures.
func checkChain(t *testing.T, dsn string, since int64) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var newest int64
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints`).Scan(&newest); err != nil {
		t.Fatal(err)
	}
	if newest <= since {
		t.Errorf("newest checkpoint at seq %d, none past the head %d when PostgreSQL came back", newest, since)
	}
	var rows, distinct, lo, hi, head, base int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM audit_events`).
		Scan(&rows, &distinct, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT seq, base_seq FROM audit_head WHERE id = 1`).Scan(&head, &base); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || lo != base+1 || hi != head || rows != head-base {
		t.Errorf("the chain in PostgreSQL: %d rows, %d distinct seqs, seq %d..%d, head %d, base %d: a gap or a duplicate",
			rows, distinct, lo, hi, head, base)
	}
}

// chainHead is the shared chain's head seq, read from PostgreSQL.
func chainHead(t *testing.T, dsn string) int64 {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var head int64
	if err := db.QueryRowContext(context.Background(), `SELECT seq FROM audit_head WHERE id = 1`).Scan(&head); err != nil {
		t.Fatal(err)
	}
	return head
}
