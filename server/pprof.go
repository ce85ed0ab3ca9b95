package server

import (
	"context"
	"errors"
	"expvar"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// loopbackAddr accepts host:port only on a loopback address: pprof has no
// authentication, and its profiles show code paths and timings, so it must
// never be reachable from the network.
func loopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return errors.New("must be a loopback address (127.0.0.1, ::1 or localhost)")
	}
	return nil
}

// ServePprof serves net/http/pprof, and expvar at /debug/vars, on addr (config pprof_listen) until ctx
// ends. It returns once listening; the listener's failure after that is
// logged. Heap and goroutine profiles hold no key material (keys live in
// the backends) but may hold request data in flight, which is why the
// endpoint is off by default and loopback only.
func ServePprof(ctx context.Context, addr string, log *slog.Logger) error {
	if err := loopbackAddr(addr); err != nil {
		return fmt.Errorf("pprof_listen %q: %w", addr, err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof_listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// expvar: the KMS backends' request counts by operation and key.
	mux.Handle("/debug/vars", expvar.Handler())
	debugHandlers(mux) // a test build's /debug/clock (clock_testclock.go); nothing otherwise
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("pprof endpoint stopped", "err", err)
		}
	}()
	log.Warn("pprof endpoint on", "addr", lis.Addr().String())
	return nil
}
