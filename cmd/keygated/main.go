// Command keygated is the keygate server.
//
//	keygated --config FILE      serve with a configuration file
//	keygated demo [--home DIR]  set up (once) and serve the local demo:
//	                            SoftHSM2 token, local CA, SQLite store, demo keys
//	keygated qualify --config FILE [--backend NAME]
//	                            run the conformance matrix against a configured backend
//	keygated --version          the build, and the FIPS 140-3 module and mode
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	_ "github.com/keygate/keygate/backends/kms"    // registers type "kms"
	_ "github.com/keygate/keygate/backends/pkcs11" // registers type "pkcs11"
	"github.com/keygate/keygate/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "keygated:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "demo" {
		return demo(args[1:])
	}
	if len(args) > 0 && args[0] == "qualify" {
		return qualifyCmd(args[1:], os.Stdout)
	}
	fs := flag.NewFlagSet("keygated", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	version := fs.Bool("version", false, "print the build and the FIPS 140-3 module and mode, and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version {
		fmt.Print(versionText())
		return nil
	}
	if *cfgPath == "" {
		return errors.New("--config is required (or run `keygated demo`)")
	}
	cfg, err := server.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	return serve(cfg, *cfgPath, nil)
}

// serve runs the server until SIGINT or SIGTERM, reloading on SIGHUP what
// can be reloaded from cfgPath (TLS files, principal mapping); ready, if
// set, runs once the server is listening.
func serve(cfg *server.Config, cfgPath string, ready func(ctx context.Context) error) error {
	log := newLogger(cfg.Log)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mlis, err := listen("metrics.listen", cfg.Metrics.Listen)
	if err != nil {
		return err
	}
	hlis, err := listen("health.listen", cfg.Health.Listen)
	if err != nil {
		closeAll(mlis)
		return err
	}
	srv, err := server.New(ctx, cfg, log, server.Options{ConfigPath: cfgPath})
	if err != nil {
		closeAll(mlis, hlis)
		return err
	}
	defer srv.Close()
	if cfg.PprofListen != "" {
		if err := server.ServePprof(ctx, cfg.PprofListen, log); err != nil {
			return err
		}
	}
	stopMetrics := serveMetrics(mlis, srv, log)
	defer stopMetrics()
	serveHealth(hlis, srv, log)
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	go reloadOnHangup(ctx, srv)
	if ready != nil {
		if err := ready(ctx); err != nil {
			srv.Shutdown(ctx)
			return err
		}
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	srv.Shutdown(sctx)
	return <-errc
}

func newLogger(c server.LogConfig) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
