package harness

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
)

// build is one build of cmd/keygated, made once per test binary.
type build struct {
	once   sync.Once
	binary string
	err    error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{} // by build tags
)

// Binary builds cmd/keygated once per test binary and returns its path.
func Binary(t testing.TB) string { return BinaryWithTags(t, "") }

// BinaryWithTags builds cmd/keygated with go build -tags tags (once per
// test binary and tags) and returns its path. test/faults builds with
// keygate_testclock to make the clock jump.
func BinaryWithTags(t testing.TB, tags string) string {
	buildsMu.Lock()
	b := builds[tags]
	if b == nil {
		b = &build{}
		builds[tags] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "keygated-bin")
		if err != nil {
			b.err = err
			return
		}
		b.binary = filepath.Join(dir, "keygated")
		cmd := exec.Command("go", "build", "-tags", tags, "-o", b.binary, "./cmd/keygated")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build keygated (tags %q): %v\n%s", tags, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.binary
}

// Process is keygated running as its own process on an env's token,
// store and certificates, as in production.
type Process struct {
	Addr string
	// ConfigFile is the config the process reads (and reads again on SIGHUP).
	ConfigFile string
	cmd        *exec.Cmd
	done       chan struct{}
}

// StartProcess runs keygated with env's config, changed by edit (may be
// nil), on a free loopback port, and waits until it answers.
func (e *Env) StartProcess(edit func(*server.Config)) *Process {
	e.T.Helper()
	return e.StartBinary(BinaryWithTags(e.T, e.BuildTags), edit)
}

// StartBinary is StartProcess with another keygated binary (a FIPS 140-3
// build, say).
func (e *Env) StartBinary(binary string, edit func(*server.Config)) *Process {
	e.T.Helper()
	c := *e.Config
	c.Listen = FreeAddr(e.T)
	c.Log = server.LogConfig{Level: "warn", Format: "json"}
	if edit != nil {
		edit(&c)
	}
	raw, err := yaml.Marshal(&c)
	must(e.T, err)
	cfgFile := filepath.Join(e.Dir, "process-"+strings.ReplaceAll(c.Listen, ":", "_")+".yaml")
	must(e.T, os.WriteFile(cfgFile, raw, 0o600))
	p := &Process{Addr: c.Listen, ConfigFile: cfgFile, cmd: exec.Command(binary, "--config", cfgFile), done: make(chan struct{})}
	p.cmd.Stderr = os.Stderr
	if e.ProcessLog != nil {
		p.cmd.Stderr = e.ProcessLog
	}
	must(e.T, p.cmd.Start())
	go func() { p.cmd.Wait(); close(p.done) }()
	e.T.Cleanup(p.Stop)
	e.waitReady(p)
	return p
}

// Kill ends the process with SIGKILL, as a crash would.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Terminate sends SIGTERM, as an orchestrator does, and returns once the
// process has exited (it is killed after a minute).
func (p *Process) Terminate() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		p.Kill()
	}
}

// ExitCode is the process's exit status (-1 while it runs).
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	default:
		return -1
	}
}

// Stop ends the process with SIGINT (a graceful shutdown) and waits.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.Kill()
	}
}

// PeakRSS is the process's peak resident set (VmHWM) in bytes.
func (p *Process) PeakRSS() int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ProcessConn dials the process as identity.
func (e *Env) ProcessConn(p *Process, identity string) *grpc.ClientConn {
	return e.dial(p.Addr, identity)
}

func (e *Env) waitReady(p *Process) {
	e.T.Helper()
	conn := e.dial(p.Addr, "admin")
	hc := pb.NewKeyAdminServiceClient(conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := hc.ListKeys(ctx, &pb.ListKeysRequest{PageSize: 1})
		cancel()
		if err == nil || status.Code(err) == codes.PermissionDenied {
			return // it answers (a config under test may refuse this admin's certificate)
		}
		select {
		case <-p.done:
			e.T.Fatalf("keygated exited: %v", p.cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			e.T.Fatalf("keygated did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// FreeAddr is a loopback address no one listens on right now.
func FreeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().String()
}

// CPUTime is the CPU time (user and system) the process has used so far,
// from /proc, in clock ticks of 10 ms; zero if it cannot be read.
func (p *Process) CPUTime() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from after it.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// Signal sends sig to the process (SIGHUP reloads).
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }
