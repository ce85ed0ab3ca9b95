package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// A command is one verb. New verb groups (keys get-policy, audit ..., 3ds
// ...) are a new file with a []*command and one line in commands.
type command struct {
	path    string   // words that select it: "sign", "keys create"
	aliases []string // other paths that select it, e.g. the older "audit list"
	args    []string // positional arguments, by name: {"NAME"}; "[NAME]" is optional
	summary string   // one line for `keygate help`
	detail  string   // more for `keygate CMD -h`, may be empty
	stream  bool     // runs until done: no deadline unless --timeout is given
	csv     bool     // takes --output csv as well as table and json
	// setup declares the verb's flags on fs and returns what runs it.
	setup func(fs *flag.FlagSet) action
}

// An action runs a verb with its positional arguments.
type action func(ctx context.Context, e *env, args []string) error

// commands is the table `keygate` dispatches on, in help order.
var commands = slices.Concat(keyCommands, versionCommands, importCommands, periodCommands, approvalCommands, certCommands, csrCommands,
	policyCommands, policyHistoryCommands, policyValidateCommands, signCommands, encryptCommands, reEncryptCommands, macCommands, deriveCommands,
	auditCommands, auditContextCommands, auditVerifyCommands, auditPruneCommands, reconcileCommands, reportCommands, threeDSCommands, tokenCommands)

// groups are the first words of multi-word verbs, with their summaries.
var groups = map[string]string{
	"keys":      "administer keys: create, list, describe, public-key, enable, disable, rotate, version lifecycle, policies, certificates",
	"policy":    "validate (offline), explain, diff and push key policies",
	"audit":     "read, follow, verify, archive, prune and reconcile the tamper-evident audit log",
	"approvals": "dual control: list, approve or deny operations waiting for a second admin",
	"report":    "the evidence pack for the PCI assessor: write it, verify it",
	"3ds":       "EMV 3DS by hand: ACS challenge sessions (CReq/CRes) and the DS's sdkEncData",
	"token":     "an admin's client key on a PKCS#11 token or smart card: generate it, make its certificate request",
}

func (c *command) synopsis() string {
	s := c.path
	for _, a := range c.args {
		s += " " + a
	}
	return s + " [flags]"
}

// argCounts returns how many positional arguments the verb needs and takes;
// a last argument ending in "..." takes any number ("[K=V...]").
func (c *command) argCounts() (min, max int) {
	for _, a := range c.args {
		if !strings.HasPrefix(a, "[") {
			min++
		}
	}
	if n := len(c.args); n > 0 && strings.HasSuffix(strings.TrimSuffix(c.args[n-1], "]"), "...") {
		return min, math.MaxInt
	}
	return min, len(c.args)
}

// helpLine is the verb's line in `keygate help`: its words, its arguments,
// its summary and its aliases, named by the words that differ from its own
// group ("audit events ... (alias: list)").
func (c *command) helpLine() string {
	s := strings.Join(append([]string{c.path}, c.args...), " ") + "\t" + c.summary
	if len(c.aliases) == 0 {
		return s
	}
	names := make([]string, len(c.aliases))
	group, _, _ := strings.Cut(c.path, " ")
	for i, a := range c.aliases {
		names[i] = strings.TrimPrefix(a, group+" ")
	}
	return s + " (alias: " + strings.Join(names, ", ") + ")"
}

// lookup finds the command whose path or alias is the longest prefix of
// args, and how many words of args it used.
func lookup(args []string) (*command, int) {
	var best *command
	n := 0
	for _, c := range commands {
		for _, p := range append([]string{c.path}, c.aliases...) {
			words := strings.Fields(p)
			if len(words) > n && len(words) <= len(args) && slices.Equal(words, args[:len(words)]) {
				best, n = c, len(words)
			}
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
object per line. --output csv (audit events, audit tail) prints a header row
and one RFC 4180 row per event. --encryption-context (or --context) takes one
k=v per flag (repeat it for more pairs); the value is everything after the
first "=", commas included. Times (--since, --until) are RFC 3339, a date
YYYY-MM-DD (midnight UTC), or a duration ago such as 90m.

A key is named as the positional NAME or --key-id NAME, as in aws kms; the
client's own private key file is --client-key FILE (or KEYGATE_KEY), or a key
in a PKCS#11 token: --client-key 'pkcs11:token=T;object=LABEL?module-path=LIB'
(RFC 7512; the PIN from pin-source=file:/path, else asked for). The old
--key spelling of either still works, with a one-line deprecation notice.
`

const exitText = `exit codes:
  0  success
  1  a negative answer: verify/verify-mac invalid ("invalid" on stdout),
     policy simulate denied, policy diff found differences, audit verify
     found the log broken, audit prune refused a log or archive that does
     not verify
  2  usage: unknown command or flag, missing argument, unreadable local file
  3  InvalidArgument: bad request, wrong encryption context, tampered ciphertext,
     policy validate found problems
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
		fmt.Fprintf(tw, "  %s\n", c.helpLine())
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
			fmt.Fprintf(tw, "  %s\n", c.helpLine())
		}
	}
	tw.Flush()
}

// printCommand shows a verb's own flags; the global ones are in `keygate help`.
func printCommand(w io.Writer, c *command) {
	fmt.Fprintf(w, "usage: keygate %s\n", c.synopsis())
	for _, a := range c.aliases {
		fmt.Fprintf(w, "   or: keygate %s%s (alias)\n", a, strings.TrimPrefix(c.synopsis(), c.path))
	}
	fmt.Fprintf(w, "\n%s\n", c.summary)
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
	fmt.Fprint(w, "\nGlobal flags (--addr --ca --cert --client-key --output --timeout) and exit codes: keygate help\n")
}
