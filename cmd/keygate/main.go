// Command keygate is the operator's client of keygated: key administration
// and data-plane verbs that mirror `aws kms`, over gRPC with mutual TLS.
//
// Run `keygate help` for the verbs, the global flags and the exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// globals are the flags every verb accepts, before or after the verb.
type globals struct {
	addr, ca, cert, key string
	output              string
	timeout             time.Duration
}

func newGlobals(getenv func(string) string) *globals {
	return &globals{addr: getenv("KEYGATE_ADDR"), ca: getenv("KEYGATE_CA"), cert: getenv("KEYGATE_CERT"),
		key: getenv("KEYGATE_KEY"), output: "table", timeout: 30 * time.Second}
}

// register declares the global flags on fs; the current values are the
// defaults, so values parsed before the verb carry over. A name the verb
// already declared is the verb's own: only the deprecated --key is, in
// the verbs that once named a key with it.
func (g *globals) register(fs *flag.FlagSet) {
	str := func(p *string, name, usage string) {
		if fs.Lookup(name) == nil {
			fs.StringVar(p, name, *p, usage)
		}
	}
	str(&g.addr, "addr", "keygated address host:port (env KEYGATE_ADDR)")
	str(&g.ca, "ca", "CA certificate file (PEM) the server's certificate must chain to (env KEYGATE_CA)")
	str(&g.cert, "cert", "client certificate file (PEM) (env KEYGATE_CERT)")
	str(&g.key, "client-key", "client private key: a PEM file, or a pkcs11: URI (RFC 7512) for a key on a token (env KEYGATE_KEY)")
	str(&g.key, "key", "deprecated: use --client-key")
	str(&g.output, "output", "output format: table (for people), json (for scripts), csv (audit events and tail)")
	if fs.Lookup("timeout") == nil {
		fs.DurationVar(&g.timeout, "timeout", g.timeout, "deadline for the whole command")
	}
}

// run is the whole CLI: it parses args, runs one verb and returns the exit
// code. Tests call it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := newGlobals(os.Getenv)
	top := flag.NewFlagSet("keygate", flag.ContinueOnError)
	top.SetOutput(io.Discard)
	top.Usage = func() {}
	g.register(top)
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(stdout)
			return exitOK
		}
		return report(stderr, usageErr("%v", err))
	}
	rest := top.Args()
	if len(rest) == 0 {
		printHelp(stderr)
		return exitUsage
	}
	if rest[0] == "help" {
		return help(rest[1:], stdout, stderr)
	}
	cmd, n := lookup(rest)
	if cmd == nil {
		if group := groupOf(rest[0]); group != "" {
			if len(rest) > 1 && !strings.HasPrefix(rest[1], "-") { // a verb the group does not have
				fmt.Fprintf(stderr, "keygate: unknown command %q\n", sanitizeText(group+" "+rest[1]))
			}
			printGroup(stderr, group)
			return exitUsage
		}
		return report(stderr, usageErr("unknown command %q; run 'keygate help'", rest[0]))
	}
	fs := flag.NewFlagSet("keygate "+cmd.path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	act := cmd.setup(fs)
	verbKey := fs.Lookup("key") != nil
	g.register(fs)
	pos, err := parseInterspersed(fs, rest[n:])
	if errors.Is(err, flag.ErrHelp) {
		printCommand(stdout, cmd)
		return exitOK
	}
	if err != nil {
		return report(stderr, usageErr("%v; run 'keygate %s -h'", redactContextValue(fs, err), cmd.path))
	}
	deprecations(stderr, cmd.path, visited(top, "key") || (!verbKey && visited(fs, "key")), verbKey && visited(fs, "key"))
	if lo, hi := cmd.argCounts(); len(pos) < lo || len(pos) > hi {
		return report(stderr, usageErr("usage: keygate %s; run 'keygate %s -h'", cmd.synopsis(), cmd.path))
	}
	switch {
	case g.output == "csv" && !cmd.csv:
		return report(stderr, usageErr("--output csv: only audit events and audit tail print CSV; want table or json"))
	case g.output != "table" && g.output != "json" && g.output != "csv":
		return report(stderr, usageErr("--output %q: want table or json", g.output))
	}
	ctx, cancel := context.WithTimeout(context.Background(), g.timeout)
	if cmd.stream && !visited(top, "timeout") && !visited(fs, "timeout") {
		cancel() // a tail or an export runs as long as it needs
		ctx, cancel = context.WithCancel(context.Background())
	}
	defer cancel()
	e := &env{g: g, stdin: stdin, stdout: stdout, stderr: stderr}
	defer e.close()
	return report(stderr, e.diagnose(ctx, act(ctx, e, pos)))
}

// deprecations says, once each, that an old spelling of --key was used:
// each flag now means one thing, as in `aws kms`.
func deprecations(w io.Writer, verb string, clientKey, keyName bool) {
	if clientKey {
		fmt.Fprintln(w, "keygate: --key FILE is deprecated: use --client-key FILE (or KEYGATE_KEY)")
	}
	if keyName {
		fmt.Fprintf(w, "keygate: %s --key NAME is deprecated: use --key-id NAME or the positional NAME\n", verb)
	}
}

// parseInterspersed parses flags that may come before, between or after the
// positional arguments (`sign NAME --out sig`), as people type them. After
// "--" everything is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func visited(fs *flag.FlagSet, name string) (seen bool) {
	fs.Visit(func(f *flag.Flag) { seen = seen || f.Name == name })
	return seen
}

// help serves `keygate help [CMD...]`.
func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printHelp(stdout)
		return exitOK
	}
	if cmd, n := lookup(args); cmd != nil && n == len(args) {
		printCommand(stdout, cmd)
		return exitOK
	}
	if group := groupOf(args[0]); group != "" && len(args) == 1 {
		printGroup(stdout, group)
		return exitOK
	}
	return report(stderr, usageErr("no help for %q; run 'keygate help'", fmt.Sprint(args)))
}
