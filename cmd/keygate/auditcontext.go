package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// auditContextCommands find events by an encryption-context value: the
// log keeps only an HMAC of each value, under the server's secret.
var auditContextCommands = []*command{
	{path: "audit context-hash", args: []string{"K=V", "[K=V...]"},
		summary: "print the HMAC the audit log holds for each encryption-context value",
		detail: "The log records an encryption context's keys in clear and each value as an\n" +
			"HMAC under the server's audit.context_secret_file; this asks the server for\n" +
			"the HMACs of the values given (the call is audited with the keys and HMACs,\n" +
			"never the values). Events with a value: audit events --context K=V.",
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				ec := contextFlag{}
				for i, a := range args {
					if err := ec.Set(a); err != nil { // never echoes a value
						return usageErr("argument %d: %v", i+1, err)
					}
				}
				c, err := e.audit()
				if err != nil {
					return err
				}
				resp, err := c.HashContext(ctx, &pb.HashContextRequest{EncryptionContext: ec})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "KEY\tVALUE HMAC")
				for _, f := range resp.EncryptionContext {
					fmt.Fprintf(tw, "%s\t%s\n", sanitizeText(f.Key), f.ValueHmac)
				}
				return tw.Flush()
			}
		}},
}

// listFlag collects a flag's values, repeated or as comma lists
// (--kind call,key.created --kind policy.changed).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v == "" {
			return fmt.Errorf("an empty value in %q", s)
		}
		*l = append(*l, v)
	}
	return nil
}
