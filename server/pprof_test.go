package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

// pprof_listen is off unless set, and refuses any address that is not
// loopback: the endpoint has no authentication.
func TestPprofListenConfig(t *testing.T) {
	c, err := ParseConfig([]byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.PprofListen != "" {
		t.Fatalf("pprof_listen defaults to %q, want off", c.PprofListen)
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060"} {
		if _, err := ParseConfig([]byte(goodConfig + "pprof_listen: \"" + addr + "\"\n")); err != nil {
			t.Errorf("pprof_listen %s: %v", addr, err)
		}
	}
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.0.0.1:6060", "example.com:6060", "6060"} {
		_, err := ParseConfig([]byte(goodConfig + "pprof_listen: \"" + addr + "\"\n"))
		if err == nil || !strings.Contains(err.Error(), "pprof_listen") {
			t.Errorf("pprof_listen %s accepted: %v", addr, err)
		}
	}
}

// ServePprof serves the profiles until its context ends.
func TestServePprof(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if err := ServePprof(ctx, addr, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("pprof: %s\n%.200s", resp.Status, body)
	}
	resp, err = http.Get("http://" + addr + "/debug/vars")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "memstats") {
		t.Fatalf("pprof: %s\n%.200s", resp.Status, body)
	}
	cancel()
	if err := ServePprof(context.Background(), "0.0.0.0:0", slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("ServePprof listened on a non-loopback address")
	}
}
