package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// port only names the socket file (.s.PGSQL.<port>); nothing listens on TCP.
const port = 5432

// startTimeout bounds how long a fresh cluster may take to accept
// connections on a loaded machine.
const startTimeout = 60 * time.Second

type server struct {
	dir  string // temporary directory: socket here, cluster in dir/data
	bin  string // the PostgreSQL bin directory
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan error
	log  bytes.Buffer
}

// binDir finds the newest installed server version's bin directory.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	var ok []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return "", errors.New("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: " +
			"install Debian's postgresql package (apt-get install postgresql)")
	}
	sort.Slice(ok, func(i, j int) bool { return version(ok[i]) < version(ok[j]) })
	return ok[len(ok)-1], nil
}

func version(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

// credential runs the server as the postgres user when we are root, since
// postgres refuses to run as root.
func credential() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("running as root needs the postgres system user (from Debian's postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

func start() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := credential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	s := &server{dir: dir, bin: bin, cred: cred}
	if err := s.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// launch starts postgres on the cluster in s.dir and waits until it
// accepts connections; a restart after halt reuses the data and socket.
func (s *server) launch() error {
	s.done = make(chan error, 1)
	s.log.Reset()
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-k", s.dir,
		"-p", strconv.Itoa(port), "-c", "listen_addresses=", "-c", "fsync=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	s.cmd.Dir = s.dir
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	// SIGQUIT on our death: postgres shuts down at once, so a test binary
	// that exits without Main leaves no server behind.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.startLocked(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	if err := s.waitReady(); err != nil {
		s.halt(syscall.SIGQUIT)
		return fmt.Errorf("%w\npostgres log:\n%s", err, s.log.String())
	}
	return nil
}

// startLocked starts postgres from a goroutine locked to its OS thread
// until postgres exits: the parent-death signal fires when the thread that
// started the child ends, and the Go runtime may end an unlocked thread
// while the test binary is still running.
func (s *server) startLocked() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.done <- s.cmd.Wait()
	}()
	return <-started
}

// waitReady polls until the server accepts a connection or exits.
func (s *server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		db, err := sql.Open("pgx", s.url("postgres"))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err = db.PingContext(ctx)
			cancel()
			db.Close()
		}
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			return fmt.Errorf("postgres exited during startup: %v", werr)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %v: %v", startTimeout, err)
		}
	}
}

// stop asks for a fast shutdown (SIGINT), waits for it, and removes the
// directory.
func (s *server) stop() error {
	defer os.RemoveAll(s.dir)
	return s.halt(syscall.SIGINT)
}

// halt stops postgres with sig, as pg_ctl stop does: SIGINT is its "fast"
// mode (clients disconnected, a clean shutdown), SIGQUIT "immediate" (no
// shutdown checkpoint; the next start recovers from the WAL). It waits
// for the postmaster to exit, killing it after 30 s.
func (s *server) halt(sig syscall.Signal) error {
	if err := s.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		return fmt.Errorf("postgres did not stop on %v; killed", sig)
	}
}
