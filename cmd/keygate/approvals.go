package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// approvalCommands are the second admin's half of dual control.
var approvalCommands = []*command{
	{path: "approvals list", summary: "list operations waiting for a second admin (--all: decided ones too)",
		setup: func(fs *flag.FlagSet) action {
			req := &pb.ListApprovalsRequest{}
			fs.StringVar(&req.KeyId, "key-id", "", "only this key's (needs keygate:ApproveOperation on it; without it, the server's admins only)")
			fs.BoolVar(&req.All, "all", false, "decided approvals too")
			return func(ctx context.Context, e *env, _ []string) error {
				resp, err := call(e.admin, func(c pb.KeyAdminServiceClient) (*pb.ListApprovalsResponse, error) { return c.ListApprovals(ctx, req) })
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tKEY\tOPERATION\tWHAT\tREQUESTER\tEXPIRES\tSTATE\tAPPROVER")
				for _, a := range resp.Approvals {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Id, a.KeyId, a.Operation, a.Description, a.Requester,
						when(a.ExpireTime), a.State, dash(a.Approver))
				}
				return tw.Flush()
			}
		}},
	{path: "approvals approve", args: []string{"ID"}, summary: "approve another admin's operation: it runs now, once",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				resp, err := call(e.admin, func(c pb.KeyAdminServiceClient) (*pb.ApproveOperationResponse, error) {
					return c.ApproveOperation(ctx, &pb.ApproveOperationRequest{ApprovalId: args[0]})
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				fmt.Fprintf(e.stdout, "approval %s %s: %s\n\n", resp.Approval.Id, resp.Approval.State, resp.Approval.Result)
				printKey(e.stdout, resp.Key)
				return nil
			}
		}},
	{path: "approvals deny", args: []string{"ID"}, summary: "deny an operation waiting for approval (its requester may withdraw it)",
		setup: func(*flag.FlagSet) action {
			return func(ctx context.Context, e *env, args []string) error {
				resp, err := call(e.admin, func(c pb.KeyAdminServiceClient) (*pb.DenyOperationResponse, error) {
					return c.DenyOperation(ctx, &pb.DenyOperationRequest{ApprovalId: args[0]})
				})
				if err != nil {
					return err
				}
				if e.json() {
					return e.printJSON(resp, nil)
				}
				printApproval(e.stdout, resp.Approval)
				return nil
			}
		}},
}

// printApproval shows an approval: what waits, for whom, until when.
func printApproval(w io.Writer, a *pb.Approval) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	if a.State == "PENDING" {
		fmt.Fprintf(tw, "Needs a second admin:\tkeygate approvals approve %s\n", a.Id)
	}
	for _, row := range [][2]string{{"Approval", a.Id}, {"Key", a.KeyId}, {"Operation", a.Operation}, {"What", a.Description},
		{"Requested by", a.Requester}, {"Requested", when(a.CreateTime)}, {"Expires", when(a.ExpireTime)}, {"State", a.State}} {
		fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
	}
	tw.Flush()
}
