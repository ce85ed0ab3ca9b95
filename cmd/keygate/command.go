package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// A command is one verb. New verb groups (keys get-policy, audit ..., 3ds
// ...) are a new file with a []*command and one line in commands.
type command struct {
	path    string   // words that select it: "sign", "keys create"
	args    []string // positional arguments, by name: {"NAME"}
	summary string   // one line for `keygate help`
	detail  string   // more for `keygate CMD -h`, may be empty
	stream  bool     // runs until done: no deadline unless --timeout is given
	// setup declares the verb's flags on fs and returns what runs it.
	setup func(fs *flag.FlagSet) action
}

// An action runs a verb with its positional arguments.
type action func(ctx context.Context, e *env, args []string) error

// commands is the table `keygate` dispatches on, in help order.
var commands = slices.Concat(keyCommands, certCommands, policyCommands, signCommands, encryptCommands, macCommands, deriveCommands,
	auditCommands, auditVerifyCommands, threeDSCommands)

// groups are the first words of multi-word verbs, with their summaries.
var groups = map[string]string{
	"keys":   "administer keys: create, list, describe, public-key, enable, disable, policies, certificates",
	"policy": "explain, diff and push key policies",
	"audit":  "read, follow, verify and export the tamper-evident audit log",
	"3ds":    "EMV 3DS by hand: ACS challenge sessions (CReq/CRes) and the DS's sdkEncData",
}

func (c *command) synopsis() string {
	s := c.path
	for _, a := range c.args {
		s += " " + a
	}
	return s + " [flags]"
}

// lookup finds the command whose path is the longest prefix of args, and
// how many words of args it used.
func lookup(args []string) (*command, int) {
	var best *command
	n := 0
	for _, c := range commands {
		words := strings.Fields(c.path)
		if len(words) > n && len(words) <= len(args) && slices.Equal(words, args[:len(words)]) {
			best, n = c, len(words)
		}
	}
	return best, n
}

func groupOf(word string) string {
	if _, ok := groups[word]; ok {
		return word
	}
	return ""
}

const helpText = `keygate is the client of keygated: key administration and crypto operations
over gRPC with mutual TLS. Names and values follow AWS KMS.

usage: keygate [global flags] COMMAND [ARGS] [flags]

Files: "-" reads stdin. Binary results (signatures, ciphertexts, MACs,
secrets) go raw to --out FILE ("--out -" for raw bytes on stdout), else as
one line of base64 on stdout; text results (PEM, JSON, JWE) print as they
are. --output json prints the whole response as one JSON object (bytes in
base64; a field written to a file becomes FIELD_file); audit tail prints one
object per line. --encryption-context takes one k=v per flag (repeat it for
more pairs); the value is everything after the first "=", commas included.
`

const exitText = `exit codes:
  0  success
  1  a negative answer: verify/verify-mac invalid ("invalid" on stdout),
     policy simulate denied, policy diff found differences
  2  usage: unknown command or flag, missing argument, unreadable local file
  3  InvalidArgument: bad request, wrong encryption context, tampered ciphertext
  4  NotFound: no such key or version
  5  FailedPrecondition or AlreadyExists: wrong key usage or state, name taken
  6  PermissionDenied or Unauthenticated: not allowed, certificate refused
  7  Unavailable, DeadlineExceeded, ResourceExhausted, Canceled: retry later
  8  Internal or any other error
Server errors are printed on stderr as "keygate: <gRPC code>: <message>".
`

func printHelp(w io.Writer) {
	fmt.Fprint(w, helpText, "\ncommands:\n")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", strings.Join(append([]string{c.path}, c.args...), " "), c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nglobal flags (before or after the command):\n")
	fs := flag.NewFlagSet("keygate", flag.ContinueOnError)
	fs.SetOutput(w)
	newGlobals(func(string) string { return "" }).register(fs)
	fs.PrintDefaults()
	fmt.Fprint(w, "\n", exitText, "\nRun 'keygate COMMAND -h' for a command's flags.\n")
}

func printGroup(w io.Writer, group string) {
	fmt.Fprintf(w, "keygate %s: %s\n\ncommands:\n", group, groups[group])
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	for _, c := range commands {
		if strings.HasPrefix(c.path, group+" ") {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.Join(append([]string{c.path}, c.args...), " "), c.summary)
		}
	}
	tw.Flush()
}

// printCommand shows a verb's own flags; the global ones are in `keygate help`.
func printCommand(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: keygate %s\n\n%s\n", c.synopsis(), c.summary)
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.detail))
	}
	fs := flag.NewFlagSet(c.path, flag.ContinueOnError)
	fs.SetOutput(w)
	c.setup(fs)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nflags:\n")
		fs.PrintDefaults()
	}
	fmt.Fprint(w, "\nGlobal flags (--addr --ca --cert --key --output --timeout) and exit codes: keygate help\n")
}
