package faults

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/kmsserver"
)

// KMS throttles, answers 5xx, is slow, and does not answer (through
// test/kmsserver's fault injection), each under load against the real
// keygated: throttling is ResourceExhausted, an outage Unavailable (the
// breaker then answers at once without calling KMS), a KMS slower than
// the caller's deadline DeadlineExceeded or Unavailable, and every
// answered call is in the log.
func TestKMSFaults(t *testing.T) {
	srv := kmsserver.New(t)
	srv.SetPrincipal(kmsserver.TestAccessKeyID, "arn:aws:iam::111122223333:role/keygated")
	t.Setenv("AWS_ACCESS_KEY_ID", kmsserver.TestAccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", kmsserver.TestSecretAccessKey)
	t.Setenv("AWS_REGION", srv.Region)
	env := harness.Start(t, harness.Options{ExtraBackends: `
  - name: kms
    type: kms
    config: {region: ` + srv.Region + `, endpoint: "` + srv.URL + `"}
`})
	env.CreateKeyApproved(&pb.CreateKeyRequest{KeyId: "kms-signing", KeySpec: "ECC_NIST_P256",
		KeyUsage: "SIGN_VERIFY", Backend: "kms", Policy: harness.OpenPolicy()})
	stopInProcess(t, env)
	logs := &lineCounter{}
	env.ProcessLog = logs
	p := env.StartProcess(nil)
	cs := pb.NewCryptoServiceClient(env.ProcessConn(p, "acs"))
	const deadline = 2 * time.Second

	phases := []struct {
		name    string
		inject  func()
		refused int // calls refused before the fault ends (0: none expected)
		want    codes.Code
	}{
		{"KMS throttles every call", func() { srv.Throttle("Sign", 100000) }, scale(300, 5000), codes.ResourceExhausted},
		{"KMS answers 500 to every call", func() { srv.FailInternal("Sign", 100000) }, scale(300, 5000), codes.Unavailable},
		{"KMS slow: 3s, past the 2s deadline", func() { srv.SetLatency("Sign", 3*time.Second) }, scale(50, 500), codes.DeadlineExceeded},
		{"KMS never answers (timeout)", func() { srv.SetLatency("Sign", time.Hour) }, scale(50, 500), codes.DeadlineExceeded},
		{"KMS slow: 300ms, inside the deadline", func() { srv.SetLatency("Sign", 300*time.Millisecond) }, 0, codes.OK},
	}
	for _, ph := range phases {
		t.Logf("%s: start", ph.name)
		l := startLoad(t, cs, "kms-signing", 8, deadline)
		l.waitAnswered(50)
		lines := logs.n.Load()
		ph.inject()
		if ph.refused > 0 {
			l.waitRefused(int64(ph.refused))
		} else {
			l.waitAnswered(l.ok.Load() + 200)
		}
		t.Logf("%s: %d answered, %d refused; clearing the fault", ph.name, l.ok.Load(), l.bad.Load())
		srv.ClearFaults()
		cleared := time.Now()
		rec := l.recovered(cleared)
		l.waitAnswered(l.ok.Load() + 50)
		l.end()
		answered, refused := l.snapshot()
		if ph.refused > 0 && refused[ph.want] == 0 {
			t.Errorf("%s: refused %v, want %s among them", ph.name, refused, ph.want)
		}
		for c := range refused {
			switch c {
			case codes.ResourceExhausted, codes.Unavailable, codes.DeadlineExceeded:
			default:
				t.Errorf("%s: %d calls refused %s", ph.name, refused[c], c)
			}
		}
		record(row{fault: ph.name, answered: len(answered), refused: refused, lost: lost(t, env, p, "kms:Sign", answered),
			recovery: rec, rssMB: p.PeakRSS() >> 20, logLines: int(logs.n.Load() - lines)})
	}
	if p.PeakRSS() > maxRSS {
		t.Errorf("peak RSS %d MB, over 150 MB", p.PeakRSS()>>20)
	}
}
