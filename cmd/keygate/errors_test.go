package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/devca"
	"github.com/keygate/keygate/test/harness"
)

func testErrors(t *testing.T, c *cli) {
	m := c.file("m", []byte("x"))
	out := c.fails(exitNotFound, `keygate: NotFound: `, "", "sign", "no-such-key", "--message-file", m)
	if out != "" {
		t.Errorf("a failed sign printed %q on stdout", out)
	}
	c.fails(exitNotFound, `keygate: NotFound: `, "", "keys", "public-key", "no-such-key")
	c.fails(exitUsage, `keygate: unknown command "sing"`, "", "sing", "acs-signing")
	c.fails(exitUsage, "keygate: usage: keygate sign NAME [flags]", "", "sign")
	c.fails(exitUsage, "keygate: usage: keygate decrypt [flags]", "", "decrypt", "extra")
	c.fails(exitUsage, "keygate: flag provided but not defined: -bogus", "", "sign", "acs-signing", "--bogus")
	c.fails(exitUsage, `keygate: --output "yaml": want table or json`, "", "--output", "yaml", "keys", "list")
}

// testRefused: without a certificate the CLI does not try; with one the
// server's CA did not issue, or one no principal maps to, the server says no.
func testRefused(t *testing.T, h *harness.Env) {
	c := newCLI(t, h, "admin")
	c.base = c.base[:len(c.base)-4] // drop --cert and --key
	c.fails(exitUsage, "keygate: --cert (or KEYGATE_CERT) is required", "", "keys", "list")

	other, err := devca.New("not keygate's CA")
	if err != nil {
		t.Fatal(err)
	}
	id, err := other.Client("admin", "spiffe://keygate.test/admin")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := devca.WriteFiles(dir, "admin", id.Cert, id.Key); err != nil {
		t.Fatal(err)
	}
	c = newCLI(t, h, "admin")
	c.base = append(c.base, "--cert", filepath.Join(dir, "admin.pem"), "--client-key", filepath.Join(dir, "admin-key.pem"))
	_, errOut, code := c.run("", "keys", "list")
	if code != exitDenied || !strings.HasPrefix(errOut, "keygate: Unavailable: ") || !strings.Contains(errOut, "tls: ") {
		t.Errorf("a certificate from another CA: exit %d, %q; want exit %d and a refused certificate", code, errOut, exitDenied)
	}

	// Whichever way gRPC saw the refusal, the probe tells it apart from a
	// server that accepts the certificate.
	foreign := &env{g: &globals{addr: h.Addr, ca: filepath.Join(h.Dir, "tls", "ca.pem"),
		cert: filepath.Join(dir, "admin.pem"), key: filepath.Join(dir, "admin-key.pem")}}
	if alert := foreign.probe(context.Background()); alert == nil {
		t.Error("probe with a foreign certificate: no alert")
	} else if msg := (&refusedError{status.New(codes.Unavailable, "broken pipe"), alert}).Error(); !strings.Contains(msg, "refused the client certificate: remote error: tls: ") {
		t.Errorf("refusedError: %q", msg)
	}
	ca, cert, key := h.TLSFiles("admin")
	if alert := (&env{g: &globals{addr: h.Addr, ca: ca, cert: cert, key: key}}).probe(context.Background()); alert != nil {
		t.Errorf("probe with the admin certificate: %v", alert)
	}

	// A --ca that did not issue the server's certificate.
	c = newCLI(t, h, "admin")
	c.base = append(c.base, "--ca", filepath.Join(dir, "admin.pem"))
	c.fails(exitDenied, "keygate: Unavailable: ", "", "keys", "list")

	newCLI(t, h, "stranger").fails(exitDenied, "keygate: PermissionDenied: ", "", "keys", "list")
	newCLI(t, h, "acs").fails(exitDenied, "keygate: PermissionDenied: ", "", "keys", "create", "x", "--key-spec", "HMAC_256", "--key-usage", "GENERATE_VERIFY_MAC")

	// Nothing listening: Unavailable, worth a retry.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	c = newCLI(t, h, "admin")
	c.base = append(c.base, "--addr", addr)
	c.fails(exitRetry, "keygate: Unavailable: ", "", "keys", "list")
}

// testEnvDefaults: KEYGATE_* stand in for the flags.
func testEnvDefaults(t *testing.T, env *harness.Env) {
	ca, cert, key := env.TLSFiles("admin")
	t.Setenv("KEYGATE_ADDR", env.Addr)
	t.Setenv("KEYGATE_CA", ca)
	t.Setenv("KEYGATE_CERT", cert)
	t.Setenv("KEYGATE_KEY", key)
	var out, errOut bytes.Buffer
	if code := run([]string{"keys", "describe", "acs-signing"}, nil, &out, &errOut); code != 0 || !strings.Contains(out.String(), "acs-signing") {
		t.Errorf("with KEYGATE_* set: exit %d, %s%s", code, out.String(), errOut.String())
	}
}

// TestCommandTable checks the table itself: unique paths, no flag that
// clashes with a global one (flag panics on a redefinition), help for all.
func TestCommandTable(t *testing.T) {
	paths := map[string]bool{}
	var help bytes.Buffer
	printHelp(&help)
	globalNames := map[string]bool{}
	gfs := flag.NewFlagSet("globals", flag.ContinueOnError)
	newGlobals(func(string) string { return "" }).register(gfs)
	gfs.VisitAll(func(f *flag.Flag) { globalNames[f.Name] = true })
	for _, c := range commands {
		for _, p := range append([]string{c.path}, c.aliases...) {
			if paths[p] {
				t.Errorf("command %q defined twice", p)
			}
			paths[p] = true
			if words := strings.Fields(p); len(words) > 1 && groupOf(words[0]) == "" {
				t.Errorf("command %q: group %q has no summary", p, words[0])
			}
		}
		// As run does: the verb's flags, then the globals it leaves free.
		// Only --key may be the verb's own (a key NAME, documented).
		fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("command %q: %v", c.path, r)
				}
			}()
			c.setup(fs)
			fs.VisitAll(func(f *flag.Flag) {
				if globalNames[f.Name] && f.Name != "key" {
					t.Errorf("command %q: flag --%s shadows the global one", c.path, f.Name)
				}
			})
			newGlobals(func(string) string { return "" }).register(fs)
		}()
		if !strings.Contains(help.String(), "  "+c.path) {
			t.Errorf("keygate help does not list %q", c.path)
		}
		for _, p := range append([]string{c.path}, c.aliases...) {
			for _, h := range []string{"-h", "--help"} {
				var out bytes.Buffer
				if code := run(append(strings.Fields(p), h), nil, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "usage: keygate "+c.path) {
					t.Errorf("keygate %s %s: exit %d, %q", p, h, code, out.String())
				}
			}
		}
	}
	// Aliases are listed once, on their verb's line.
	for _, want := range []string{"  audit events  ", "(alias: list)", "(alias: export)", "(alias: create-acs-session)", "policy validate FILE"} {
		if strings.Count(help.String(), want) != 1 {
			t.Errorf("keygate help lists %q %d times, want once", want, strings.Count(help.String(), want))
		}
	}
	for _, args := range [][]string{{"help"}, {"help", "keys"}, {"help", "keys", "create"}, {"help", "audit", "list"}, {"-h"}} {
		var out bytes.Buffer
		if code := run(args, nil, &out, &out); code != 0 || out.Len() == 0 {
			t.Errorf("keygate %v: exit %d, %q", args, code, out.String())
		}
	}
	var out bytes.Buffer
	if run([]string{"help", "3ds", "create-session"}, nil, &out, &out); !strings.Contains(out.String(), "--key-id") {
		t.Errorf("3ds create-session help does not name --key-id:\n%s", out.String())
	}
}

func TestParseInterspersed(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		pos     []string
		out, ec string
	}{
		{[]string{"NAME", "--out", "f"}, []string{"NAME"}, "f", ""},
		{[]string{"--out", "f", "NAME", "--encryption-context", "a=b,c", "--encryption-context", "d=e=f"}, []string{"NAME"}, "f", "a=b,c,d=e=f"},
		{[]string{"A", "B", "--out=-"}, []string{"A", "B"}, "-", ""},
		{[]string{"--", "--out", "x"}, []string{"--out", "x"}, "", ""},
		{[]string{"N", "--", "-x"}, []string{"N", "-x"}, "", ""},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		out := fs.String("out", "", "")
		ec := contextVar(fs)
		pos, err := parseInterspersed(fs, tc.args)
		if err != nil || strings.Join(pos, " ") != strings.Join(tc.pos, " ") || *out != tc.out || ec.String() != tc.ec {
			t.Errorf("%q: pos %q out %q context %q err %v; want %q %q %q", tc.args, pos, *out, ec, err, tc.pos, tc.out, tc.ec)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	contextVar(fs)
	if _, err := parseInterspersed(fs, []string{"--encryption-context", "a=1", "--encryption-context", "a=2"}); err == nil {
		t.Error("a context key given twice was accepted")
	}
}
