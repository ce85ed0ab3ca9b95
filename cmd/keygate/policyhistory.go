package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// policyHistoryCommands print who set each policy a key has had, when,
// with which approval, and the document (issue 16: changes with their
// content).
var policyHistoryCommands = []*command{
	{path: "keys policy-history", args: []string{"NAME"}, summary: "print every policy a key has had: who set it, when, the approval, the document",
		detail: "Oldest first. Each entry is the audit event that set the policy (its seq, to find\n" +
			"it with `keygate audit events`) and the document, whose SHA-256 the event names:\n" +
			"  keygate keys policy-history issuer-cavv",
		setup: func(fs *flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				c, err := e.admin()
				if err != nil {
					return err
				}
				resp, err := c.GetKeyPolicyHistory(ctx, &pb.GetKeyPolicyHistoryRequest{KeyId: args[0]})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				if len(resp.Changes) == 0 {
					_, err := fmt.Fprintf(e.stdout, "key %s has had no policy set through keygate\n", sanitizeText(args[0]))
					return err
				}
				for _, ch := range resp.Changes {
					fmt.Fprintf(e.stdout, "seq %d  %s  %s  %s\n", ch.Seq, ch.Time.AsTime().UTC().Format(time.RFC3339),
						sanitizeText(ch.Principal), sanitizeText(ch.Action))
					fmt.Fprintf(e.stdout, "  %s\n", sanitizeText(ch.Detail))
					fmt.Fprintf(e.stdout, "  policy sha256:%s\n", ch.PolicySha256)
					for _, line := range strings.Split(strings.TrimRight(ch.Policy, "\n"), "\n") {
						fmt.Fprintf(e.stdout, "    %s\n", sanitizeText(line))
					}
				}
				return nil
			}
		}},
}
