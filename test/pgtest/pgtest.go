// Package pgtest gives tests a real PostgreSQL server from Debian's
// postgresql package: one server per test binary, started on first use in a
// temporary directory and reachable only on a unix socket there, and a fresh
// database per test.
//
// Use it from TestMain so the server is stopped cleanly when the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// Without Main the server still dies with the test binary (it is started
// with a parent-death signal), but its temporary directory is left behind.
package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// server is the one PostgreSQL of this test binary; tests share it through
// package state because TestMain and the tests must find the same process.
var (
	once    sync.Once
	srv     *server
	srvErr  error
	dbCount atomic.Int64
)

// Main runs the tests and then stops the server, if one was started, and
// removes its directory. It does not return.
func Main(m *testing.M) {
	code := m.Run()
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stopping postgres:", err)
		}
	}
	os.Exit(code)
}

// DSN creates a new, empty database for t and returns a URL for it that
// pgx (and its database/sql driver "pgx") accepts. The database is dropped
// when t ends. DSN fails t if PostgreSQL is not installed or will not start.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { srv, srvErr = start() })
	if srvErr != nil {
		t.Fatalf("pgtest: %v", srvErr)
	}
	return srv.dsn(t)
}

// dsn creates a database on s that is dropped when t ends.
func (s *server) dsn(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbCount.Add(1))
	admin, err := sql.Open("pgx", s.url("postgres"))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer admin.Close()
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", s.url("postgres"))
		if err != nil {
			t.Errorf("pgtest: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.url(name)
}

// url is the connection URL of database name on the server's socket.
func (s *server) url(name string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable",
		name, url.QueryEscape(s.dir), port)
}
