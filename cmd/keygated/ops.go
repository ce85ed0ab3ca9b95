package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keygate/keygate/server"
)

// listen binds an operations listener (metrics.listen, health.listen),
// if set, before keygated opens its store or backends: a port that cannot
// be bound stops it at once, naming the setting. nil means none.
func listen(setting, addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", setting, addr, err)
	}
	return lis, nil
}

// serveHealth answers the kubelet's gRPC health probes on lis until the
// server shuts down.
func serveHealth(lis net.Listener, srv *server.Server, log *slog.Logger) {
	if lis == nil {
		return
	}
	log.Info("health listening (plaintext, grpc.health.v1 only)", "addr", lis.Addr().String())
	go func() {
		if err := srv.ServeHealth(lis); err != nil {
			log.Error("health listener", "addr", lis.Addr().String(), "err", err)
		}
	}()
}

// serveMetrics serves /metrics on lis until stop.
func serveMetrics(lis net.Listener, srv *server.Server, log *slog.Logger) (stop func()) {
	if lis == nil {
		return func() {}
	}
	hs := &http.Server{Handler: srv.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "addr", lis.Addr().String(), "err", err)
		}
	}()
	log.Info("metrics listening", "addr", lis.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(ctx)
	}
}

// reloadOnHangup reloads the TLS files and the principal mapping on each
// SIGHUP until ctx ends; a failed reload keeps what runs (the server logs
// and counts it).
func reloadOnHangup(ctx context.Context, srv *server.Server) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			srv.Reload()
		}
	}
}

// closeAll closes the listeners bound before a failed start.
func closeAll(ls ...net.Listener) {
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
}
