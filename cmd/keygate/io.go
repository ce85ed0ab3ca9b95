package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
)

// maxInput bounds what a verb reads from a file or stdin: the server takes
// at most a few KiB, so anything bigger is a mistake (the wrong file).
const maxInput = 1 << 20

// read reads the file a flag names; "-" is stdin, which can be read once.
// An upper-case flagName is a positional argument (FILE), not a flag.
func (e *env) read(flagName, path string) ([]byte, error) {
	name := "--" + flagName
	if strings.ToUpper(flagName) == flagName {
		name = flagName
	}
	if path == "" {
		return nil, usageErr("%s is required", name)
	}
	var r io.Reader
	if path == "-" {
		if e.stdinUsed {
			return nil, usageErr("%s -: stdin is already read by another flag", name)
		}
		e.stdinUsed = true
		r = e.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageErr("%s: %v", name, err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, usageErr("%s: %v", name, err)
	}
	if len(b) > maxInput {
		return nil, usageErr("%s: larger than %d bytes", name, maxInput)
	}
	return b, nil
}

// write puts raw bytes in the file a flag names ("-" is stdout). Files are
// created 0600: they may hold a plaintext or a data key.
func (e *env) write(path string, b []byte) error {
	if path == "-" {
		_, err := e.stdout.Write(b)
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeStream copies chunks from next until io.EOF into the file path
// ("-" is stdout). A file is written beside and renamed into place, so a
// failed download never leaves a truncated archive under the final name.
func (e *env) writeStream(path string, next func() ([]byte, error)) error {
	w, tmp := e.stdout, ""
	if path != "-" {
		f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		defer f.Close()
		defer os.Remove(f.Name()) // fails harmlessly after the rename
		w, tmp = f, f.Name()
	}
	for {
		b, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if tmp == "" {
		return nil
	}
	if err := w.(*os.File).Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// emit prints a data-plane result whose main output is one byte string
// (field is its proto name): raw to out if set, else base64; with --output
// json, the whole response.
func (e *env) emit(resp proto.Message, field string, blob []byte, out string) error {
	if out == "-" && e.json() {
		return usageErr("--out - and --output json both write stdout; pick one")
	}
	if out != "" {
		if err := e.write(out, blob); err != nil {
			return err
		}
	}
	if e.json() {
		files := map[string]string{}
		if out != "" {
			files[field] = out
		}
		return e.printJSON(resp, files)
	}
	if out == "" {
		_, err := fmt.Fprintln(e.stdout, base64.StdEncoding.EncodeToString(blob))
		return err
	}
	return nil
}

// emitText is emit for results that are text already (JSON, a JWE): they
// print as they are, with a newline, rather than in base64.
func (e *env) emitText(resp proto.Message, field string, text []byte, out string) error {
	switch {
	case out != "":
		if err := e.write(out, text); err != nil {
			return err
		}
		if !e.json() {
			return nil
		}
		return e.printJSON(resp, map[string]string{field: out})
	case e.json():
		return e.printJSON(resp, nil)
	}
	_, err := fmt.Fprintf(e.stdout, "%s\n", bytes.TrimRight(text, "\n"))
	return err
}

// trimText drops the newline an editor or `echo` leaves after a JWE.
func trimText(b []byte) string { return strings.TrimSpace(string(b)) }

// contextFlag collects repeated --encryption-context k=v pairs. One pair per
// flag keeps values with commas or "=" unambiguous.
type contextFlag map[string]string

func (c contextFlag) String() string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = k + "=" + c[k]
	}
	return strings.Join(keys, ",")
}

func (c contextFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value") // never echoed: the argument may be the value alone
	}
	if _, dup := c[k]; dup {
		return fmt.Errorf("key %q given twice", k)
	}
	c[k] = v
	return nil
}

// flagValueErr is how package flag reports a value Set refused: with the
// value quoted.
var flagValueErr = regexp.MustCompile(`^invalid value ".*" for flag -([A-Za-z0-9-]+): (.*)$`)

// redactContextValue drops the value from a refused --encryption-context
// (or --context) argument's error: it may be card data.
func redactContextValue(fs *flag.FlagSet, err error) error {
	m := flagValueErr.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	if f := fs.Lookup(m[1]); f != nil {
		if _, secret := f.Value.(contextFlag); secret {
			return fmt.Errorf("invalid value for flag -%s: %s", m[1], m[2])
		}
	}
	return err
}

func contextVar(fs *flag.FlagSet) contextFlag {
	c := contextFlag{}
	fs.Var(c, "encryption-context", "authenticated context `k=v`, repeatable; the same pairs are needed to decrypt")
	fs.Var(c, "context", "the same as --encryption-context")
	return c
}
