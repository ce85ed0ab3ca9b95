package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/qualify"
	"github.com/keygate/keygate/server"
)

// qualifyCmd is `keygated qualify --config FILE [--backend NAME]`: the
// conformance matrix against one configured backend, before go-live. It
// opens only that backend (no store, no TLS) and exits non-zero only for a
// wrong result or an error on something the backend claims to support.
func qualifyCmd(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keygated qualify", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (YAML)")
	name := fs.String("backend", "", "backend to qualify (default: default_backend)")
	timeout := fs.Duration("timeout", 30*time.Minute, "bound on the whole run (RSA-4096 generation is slow on some HSMs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("qualify: --config is required")
	}
	cfg, err := server.LoadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = cfg.DefaultBackend
	}
	var bc *server.BackendConfig
	for i := range cfg.Backends {
		if cfg.Backends[i].Name == *name {
			bc = &cfg.Backends[i]
		}
	}
	if bc == nil {
		return fmt.Errorf("qualify: no backend %q in %s", *name, *cfgPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	b, err := backends.Open(ctx, bc.Type, bc.Name, &bc.Config)
	if err != nil {
		return err
	}
	defer b.Close()
	r := qualify.Run(ctx, b)
	if err := r.Write(out); err != nil {
		return err
	}
	if !r.Passed() {
		return fmt.Errorf("qualify: backend %q gave wrong results or failed where it claims support", bc.Name)
	}
	return nil
}
