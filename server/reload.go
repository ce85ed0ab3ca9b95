package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Reloading: keygated takes a new server certificate and key, client CA
// bundle, CRL and principal mapping without a restart, when their files
// change (CheckFiles, polled every reload_interval) or on SIGHUP (Reload).
// Handshakes read the live TLS configuration through GetConfigForClient,
// so connections open keep theirs and new ones get the new one: no call
// fails. A reload that fails keeps everything as it was, says why in the
// log and counts it (keygate_reload_failures_total).

// live is what a reload replaces, swapped whole.
type live struct {
	tls        *tls.Config
	principals map[principalKey]string
	roles      *roleChecks // tls.roles: what each role's certificates must carry
}

// reloader keeps the live configuration and the files it came from.
type reloader struct {
	cur  atomic.Pointer[live]
	mu   sync.Mutex // one reload at a time
	path string     // the config file (empty: the TLS files only)
	seen [32]byte   // hash of the watched files at the last attempt
}

// newLive checks a configuration's TLS files and principals and builds
// what handshakes and identify read. A certificate that is not valid now
// (expired, or not yet valid) is refused: serving it would fail every
// client's verification.
func newLive(cfg *Config, now time.Time) (*live, error) {
	tc, err := serverTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	leaf := tc.Certificates[0].Leaf
	switch {
	case leaf == nil:
		return nil, errors.New("tls: server certificate: no leaf")
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("tls: server certificate %s expired at %s", cfg.TLS.Cert, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("tls: server certificate %s is not valid before %s", cfg.TLS.Cert, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	ps := map[principalKey]string{}
	for _, m := range cfg.Principals {
		ps[principalKey{m.source(), m.Identity}] = m.ARN
	}
	roles, err := newRoleChecks(cfg, tc.ClientCAs)
	if err != nil {
		return nil, err
	}
	return &live{tls: tc, principals: ps, roles: roles}, nil
}

// serverConfig is the tls.Config gRPC gets: each handshake takes the live
// configuration.
func (s *Server) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{"h2"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return s.reload.cur.Load().tls, nil
		},
	}
}

// Reload reads the config file again (or, without one, the TLS files the
// config names) and takes its certificate, key, client CA, CRL and
// principal mapping. Other settings need a restart. On error nothing
// changes.
func (s *Server) Reload() error {
	s.reload.mu.Lock()
	defer s.reload.mu.Unlock()
	s.reload.seen, _ = s.filesHash()
	return s.reloadLocked()
}

// CheckFiles reloads if a watched file changed since the last attempt
// (a bad file is not retried until it changes again). It reports whether
// it reloaded, and why a reload failed.
func (s *Server) CheckFiles() (bool, error) {
	s.reload.mu.Lock()
	defer s.reload.mu.Unlock()
	h, err := s.filesHash()
	if err != nil || h == s.reload.seen {
		return false, nil // a file being replaced: the next check sees it whole
	}
	s.reload.seen = h
	return true, s.reloadLocked()
}

func (s *Server) reloadLocked() error {
	cfg := s.cfg
	if s.reload.path != "" {
		c, err := LoadConfig(s.reload.path)
		if err != nil {
			return s.reloadFailed(err)
		}
		cfg = c
	}
	l, err := newLive(cfg, time.Now())
	if err != nil {
		return s.reloadFailed(err)
	}
	s.reload.cur.Store(l)
	s.metrics.reloads.Inc()
	s.log.Info("reloaded TLS certificate, client CA and principal mapping", "cert", cfg.TLS.Cert, "principals", len(l.principals))
	s.recordReload(cfg)
	return nil
}

// recordReload records the configuration a reload put in force: the
// running one with the file's principals and TLS files.
func (s *Server) recordReload(file *Config) {
	effective := *s.cfg
	effective.Principals, effective.TLS = file.Principals, file.TLS
	if file == s.cfg {
		file = nil // the TLS files only: no config file was read
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.recordConfig(ctx, "reload", &effective, file); err != nil {
		s.log.Error("audit: the reloaded configuration was not recorded", "err", err)
	}
}

func (s *Server) reloadFailed(err error) error {
	s.metrics.reloadFailures.Inc()
	s.log.Error("reload failed; keeping the running configuration", "err", err)
	return fmt.Errorf("reload: %w", err)
}

// filesHash hashes the watched files' contents (a Kubernetes Secret
// update swaps a symlink: content, not mtime, says what changed).
func (s *Server) filesHash() ([32]byte, error) {
	h := sha256.New()
	for _, f := range append([]string{s.reload.path, s.cfg.TLS.Cert, s.cfg.TLS.Key, s.cfg.TLS.ClientCA, s.cfg.TLS.CRLFile}, s.cfg.TLS.Roles.caFiles()...) {
		if f == "" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return [32]byte{}, err
		}
		sum := sha256.Sum256(raw)
		h.Write(sum[:])
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

// WatchFiles runs CheckFiles every interval until ctx ends.
func (s *Server) WatchFiles(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() { s.CheckFiles() })
}
