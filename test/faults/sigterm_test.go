package faults

import (
	"testing"
	"time"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// SIGTERM under load, the graceful twin of the kill -9 test: the calls in
// flight finish or are refused, the process exits 0 within its grace
// period, and every answered call is in the log (read after a restart).
// The recovery column is the drain: SIGTERM to exit. Calls begun after
// SIGTERM are not counted: they reach no server.
func TestSIGTERMUnderLoad(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("term-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	stopInProcess(t, env)
	p := env.StartProcess(nil)
	l := startLoad(t, pb.NewCryptoServiceClient(env.ProcessConn(p, "acs")), "term-signing", 16, 10*time.Second)
	l.waitAnswered(int64(scale(300, 5000)))
	peak := p.PeakRSS()
	l.stopCounting() // the calls in flight at SIGTERM are counted, later ones reach no server
	sent := time.Now()
	p.Terminate()
	drain := time.Since(sent)
	l.end()
	if code := p.ExitCode(); code != 0 {
		t.Fatalf("keygated exited %d after SIGTERM, want 0", code)
	}
	answered, refused := l.snapshot()
	p2 := env.StartProcess(nil)
	record(row{fault: "SIGTERM under load (16 callers)", answered: len(answered), refused: refused,
		lost: lost(t, env, p2, "kms:Sign", answered), recovery: drain, rssMB: peak >> 20, logLines: -1})
}
