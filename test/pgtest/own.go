package pgtest

import (
	"syscall"
	"testing"
)

// Server is a PostgreSQL of one test's own, for fault tests that stop it
// and start it again on the same data directory and socket: the
// databases and the DSNs given out stay valid across a restart.
type Server struct{ s *server }

// New starts a PostgreSQL for t alone; it is stopped and removed when t
// ends.
func New(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { s.stop() }) // an error here is a server already stopped
	return &Server{s: s}
}

// DSN creates a new, empty database on the server and returns its URL.
func (o *Server) DSN(t testing.TB) string {
	t.Helper()
	return o.s.dsn(t)
}

// Stop stops the server as `pg_ctl stop -m fast` does, or with immediate
// as `-m immediate` does (a crash, as far as its clients can tell), and
// returns once it has exited.
func (o *Server) Stop(t testing.TB, immediate bool) {
	t.Helper()
	sig := syscall.SIGINT
	if immediate {
		sig = syscall.SIGQUIT
	}
	if err := o.s.halt(sig); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Start starts the stopped server again on the same data and socket and
// returns once it accepts connections.
func (o *Server) Start(t testing.TB) {
	t.Helper()
	if err := o.s.launch(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}
