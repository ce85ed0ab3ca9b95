package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/policy"
)

// policyValidateCommands check a policy document offline, by the same
// rules the server applies (policy.Validate), before anyone pushes it.
var policyValidateCommands = []*command{
	{path: "policy validate", args: []string{"FILE"}, summary: "check a key-policy document offline: every problem, exit 3 when invalid",
		detail: "Needs no server. Each problem names the statement (index and Sid) and the\n" +
			"element, e.g.\n" +
			"  policy.json: Statement[1] (Sid \"AcsSigns\"): Effect: must be \"Allow\" or \"Deny\"\n" +
			"FILE \"-\" reads stdin. Prints \"valid\" and exits 0 when there is nothing to fix.",
		setup: func(*flag.FlagSet) action {
			return func(_ context.Context, e *env, args []string) error {
				doc, err := e.read("FILE", args[0])
				if err != nil {
					return err
				}
				problems, warnings := policy.Validate(doc), policy.Warnings(doc)
				if e.json() {
					err = printProblemsJSON(e, args[0], problems, warnings)
				} else {
					err = printProblems(e, args[0], problems, warnings)
				}
				if err != nil || len(problems) == 0 {
					return err
				}
				return kgerr.Errorf(kgerr.InvalidArgument, "%s: %d problems in the key policy", args[0], len(problems))
			}
		}},
}

func printProblems(e *env, file string, problems, warnings []policy.Problem) error {
	for _, w := range warnings {
		if _, err := fmt.Fprintf(e.stdout, "%s: warning: %s\n", sanitizeText(file), sanitizeText(w.String())); err != nil {
			return err
		}
	}
	if len(problems) == 0 {
		_, err := fmt.Fprintln(e.stdout, "valid")
		return err
	}
	for _, p := range problems {
		if _, err := fmt.Fprintf(e.stdout, "%s: %s\n", sanitizeText(file), sanitizeText(p.String())); err != nil {
			return err
		}
	}
	return nil
}

// printProblemsJSON prints {"file", "valid", "problems": [...]}, with
// statement -1 for a problem of the document itself.
func printProblemsJSON(e *env, file string, problems, warnings []policy.Problem) error {
	type problem struct {
		Statement int    `json:"statement"`
		Sid       string `json:"sid"`
		Element   string `json:"element"`
		Message   string `json:"message"`
	}
	out := struct {
		File     string    `json:"file"`
		Valid    bool      `json:"valid"`
		Problems []problem `json:"problems"`
		Warnings []problem `json:"warnings"`
	}{File: file, Valid: len(problems) == 0, Problems: []problem{}, Warnings: []problem{}}
	for _, p := range problems {
		out.Problems = append(out.Problems, problem{p.Statement, p.Sid, p.Element, p.Message})
	}
	for _, p := range warnings {
		out.Warnings = append(out.Warnings, problem{p.Statement, p.Sid, p.Element, p.Message})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}
