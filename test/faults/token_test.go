package faults

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// The token disappears under the running keygated (its files moved out
// of SoftHSM2's token directory, as a removed HSM looks to the process)
// and comes back: calls fail Unavailable, the overall health says
// NOT_SERVING (the one backend cannot serve), and once the files are back
// the same keys sign again, without a restart.
func TestTokenDisappears(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("tok-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	stopInProcess(t, env)
	logs := &lineCounter{}
	env.ProcessLog = logs
	p := env.StartProcess(nil)
	cs := pb.NewCryptoServiceClient(env.ProcessConn(p, "acs"))
	before, err := cs.GetPublicKey(t.Context(), &pb.GetPublicKeyRequest{KeyId: "tok-signing"})
	if err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, cs, "tok-signing", 8, 10*time.Second)
	l.waitAnswered(200)

	// Away means out of the token directory: SoftHSM2 takes any
	// directory in it for a token.
	dir := env.Token.Dir(t)
	away := filepath.Join(t.TempDir(), "away")
	lines := logs.n.Load()
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, env, p, healthpb.HealthCheckResponse_NOT_SERVING)
	l.waitRefused(l.bad.Load() + int64(scale(500, 20000)))
	if st := health(env, p); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("overall health with the token away: %s", st)
	}
	linesDuring := int(logs.n.Load() - lines)
	if err := os.Rename(away, dir); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	rec := l.recovered(back)
	waitHealth(t, env, p, healthpb.HealthCheckResponse_SERVING)
	l.waitAnswered(l.ok.Load() + 200)
	l.end()
	if p.ExitCode() != -1 {
		t.Fatal("keygated exited during the fault")
	}
	answered, refused := l.snapshot()
	for c, n := range refused {
		if c != codes.Unavailable {
			t.Errorf("%d calls refused %s with the token away, want only Unavailable. Log tail:\n%s", n, c, logs)
		}
	}
	// The same key: a signature made now verifies under the public key
	// read before the token went away.
	msg := []byte("after the token came back")
	sig, err := cs.Sign(t.Context(), &pb.SignRequest{KeyId: "tok-signing", Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(before.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig.Signature) {
		t.Error("a signature made after the token came back does not verify under the key's public key from before")
	}
	record(row{fault: "token files moved away and back", answered: len(answered), refused: refused,
		lost: lost(t, env, p, "kms:Sign", answered), recovery: rec, rssMB: p.PeakRSS() >> 20, logLines: linesDuring})
	if p.PeakRSS() > maxRSS {
		t.Errorf("peak RSS %d MB, over 150 MB", p.PeakRSS()>>20)
	}
}
