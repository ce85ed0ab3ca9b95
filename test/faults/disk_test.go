package faults

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
)

// smallDisk mounts a tmpfs of size bytes for the test (it needs root, as
// CI and this machine have) and unmounts it at cleanup.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a %s tmpfs for the store (needs root): %v %s", size, err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	f.Sync()
}

// The store's disk fills under load, then frees: keygated refuses every
// call Unavailable, says NOT_SERVING, writes a bounded number of log
// lines, and once space returns says SERVING and answers, with no restart
// and no answered call missing from the log.
func TestDiskFull(t *testing.T) {
	disk := smallDisk(t, "8m")
	env := harness.Start(t, harness.Options{Store: &server.StoreConfig{Driver: "sqlite", DSN: filepath.Join(disk, "keygate.db")}})
	env.CreateKey("disk-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	stopInProcess(t, env)
	logs := &lineCounter{}
	env.ProcessLog = logs
	p := env.StartProcess(nil)
	l := startLoad(t, pb.NewCryptoServiceClient(env.ProcessConn(p, "acs")), "disk-signing", 8, 10*time.Second)
	l.waitAnswered(200)

	filler := filepath.Join(disk, "filler")
	linesAtOutage := logs.n.Load()
	fill(t, filler)
	waitHealth(t, env, p, healthpb.HealthCheckResponse_NOT_SERVING)
	refusedAtOutage := l.bad.Load()
	l.waitRefused(refusedAtOutage + int64(scale(10000, 200000)))
	if st := health(env, p); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("overall health during the outage: %s", st)
	}
	lines := int(logs.n.Load() - linesAtOutage)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	rec := l.recovered(freed)
	waitHealth(t, env, p, healthpb.HealthCheckResponse_SERVING)
	l.waitAnswered(l.ok.Load() + 200)
	l.end()
	if p.ExitCode() != -1 {
		t.Fatal("keygated exited during the fault")
	}
	answered, refused := l.snapshot()
	r := row{fault: "store disk full (SQLite, 8 MB tmpfs)", answered: len(answered), refused: refused,
		lost: lost(t, env, p, "kms:Sign", answered), recovery: rec, rssMB: p.PeakRSS() >> 20, logLines: lines}
	record(r)
	if lines >= 1000 {
		t.Errorf("%d log lines during the outage; want fewer than 1000. Tail:\n%s", lines, logs)
	}
	if p.PeakRSS() > maxRSS {
		t.Errorf("peak RSS %d MB, over 150 MB", p.PeakRSS()>>20)
	}
}
