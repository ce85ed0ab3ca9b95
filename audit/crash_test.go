package audit_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"os"
	execpkg "os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
)

// crashEnv tells the re-executed test binary to act as the writer process.
const crashEnv = "AUDIT_CRASH_TEST_DB"

// TestCrashHelper is the writer process of TestCrashDurability: 16
// callers record events and print each event's request id once Record has
// returned, until the parent kills the process.
func TestCrashHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("run by TestCrashDurability")
	}
	der, err := os.ReadFile(path + ".key")
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.ParseECPrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	s := openStore(t, path)
	l, err := audit.New(audit.Config{Store: s, Signer: &ecSigner{k}, ContextSecret: secret, CheckpointEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				e := callEvent(l, w*1_000_000+i)
				if err := l.Record(context.Background(), e); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				out.WriteString(e.BackendRequestID + "\n")
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// A writer killed with SIGKILL under load loses nothing it acknowledged,
// and the chain it leaves verifies; a new log continues it.
func TestCrashDurability(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.db")
	sig := newSigner(t)
	der, _ := x509.MarshalECPrivateKey(sig.k)
	if err := os.WriteFile(path+".key", der, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := execpkg.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill once 2000 events are acknowledged and a checkpoint covers some:
	// checkpoints are signed in the background, and on a loaded machine
	// the first may come after the 2000th event.
	acked := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	var peek *sqlstore.Store
	checkpointed := func() bool {
		if peek == nil {
			peek = openStore(t, path)
		}
		c, err := peek.LastCheckpoint(context.Background())
		return err == nil && c.Seq > 0
	}
	for sc.Scan() && len(acked) < 1_000_000 {
		acked[sc.Text()] = true
		if len(acked) >= 2000 && len(acked)%250 == 0 && checkpointed() {
			break
		}
	}
	cmd.Process.Kill() // SIGKILL: no Close, no final checkpoint
	cmd.Wait()
	if len(acked) < 2000 {
		t.Fatalf("the writer acknowledged only %d events before exiting", len(acked))
	}

	s := openStore(t, path)
	v := verifier(t, sig)
	r := verify(t, s, v)
	if !r.OK() || r.Protected == 0 {
		t.Fatalf("after SIGKILL: %+v (first problem %v)", r, r.First())
	}
	stored := map[string]bool{}
	q := audit.Query{Limit: audit.MaxLimit}
	for {
		evs, err := audit.Events(context.Background(), s, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			stored[e.BackendRequestID] = true
			q.AfterSeq = e.Seq
		}
		if len(evs) < q.Limit {
			break
		}
	}
	for id := range acked {
		if !stored[id] {
			t.Fatalf("event %s was acknowledged but is not in the log", id)
		}
	}
	t.Logf("%d acknowledged, %d stored, %d protected by a checkpoint", len(acked), len(stored), r.Protected)

	l := newLog(t, s, sig, "restarted")
	record(t, l, 0, 5)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := verify(t, s, v); !r.OK() || r.Unprotected != 0 || r.Head.Seq != uint64(len(stored)+5) {
		t.Fatalf("after restart: %+v (first problem %v)", r, r.First())
	}
}
