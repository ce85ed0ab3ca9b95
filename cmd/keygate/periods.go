package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// daysFlag is a period in whole days: "90d", or "90".
type daysFlag struct {
	days uint32
	set  bool
}

func (d *daysFlag) String() string {
	if d == nil || !d.set {
		return ""
	}
	return strconv.FormatUint(uint64(d.days), 10) + "d"
}

func (d *daysFlag) Set(s string) error {
	n, err := strconv.ParseUint(strings.TrimSuffix(s, "d"), 10, 32)
	if err != nil {
		return fmt.Errorf("want a number of days such as 90d")
	}
	d.days, d.set = uint32(n), true
	return nil
}

// periodCommands set and report rotation periods and cryptoperiods.
var periodCommands = []*command{
	{path: "keys update", args: []string{"NAME"}, summary: "set a key's automatic rotation period, cryptoperiod and dual control",
		detail: "--rotation-period 90d..2560d makes keygated rotate a symmetric or HMAC key itself when its\n" +
			"primary is that old (0 stops it); --cryptoperiod 1d..3650d is how long a version may make new\n" +
			"outputs (0: the server's default for the key's usage); --dual-control says which operations\n" +
			"need a second admin (it needs kms:PutKeyPolicy, and while PutKeyPolicy is under dual control no\n" +
			"operation may leave it). A flag not given is left as it is.",
		setup: func(fs *flag.FlagSet) action {
			var rot, cp daysFlag
			fs.Var(&rot, "rotation-period", "automatic rotation period, e.g. 365d (0: none)")
			fs.Var(&cp, "cryptoperiod", "cryptoperiod, e.g. 730d (0: the server's default)")
			dual := fs.String("dual-control", "", "operations needing a second admin: a comma list of ActivateKeyVersion,\n"+
				"ScheduleKeyVersionDeletion, PutKeyPolicy; \"none\"; or \"default\" (the server's)")
			return func(ctx context.Context, e *env, args []string) error {
				if !rot.set && !cp.set && *dual == "" {
					return usageErr("give --rotation-period, --cryptoperiod or --dual-control")
				}
				req := &pb.UpdateKeyRotationRequest{KeyId: args[0]}
				switch *dual {
				case "":
				case "default":
					req.DualControl = &pb.DualControl{UseDefault: true}
				case "none":
					req.DualControl = &pb.DualControl{}
				default:
					req.DualControl = &pb.DualControl{Operations: strings.Split(*dual, ",")}
				}
				if rot.set {
					req.RotationPeriodInDays = &rot.days
				}
				if cp.set {
					req.CryptoperiodDays = &cp.days
				}
				return adminCall(ctx, e, func(c pb.KeyAdminServiceClient) (keyResponse, error) { return c.UpdateKeyRotation(ctx, req) })
			}
		}},
	{path: "keys due", summary: "list keys whose rotation is overdue or due soon; exit 1 if any is overdue (for cron)",
		setup: func(fs *flag.FlagSet) action {
			within := daysFlag{days: 30, set: true}
			fs.Var(&within, "within", "also list keys due within this many days")
			return func(ctx context.Context, e *env, _ []string) error {
				c, err := e.admin()
				if err != nil {
					return err
				}
				var rows []dueRow
				req := &pb.ListKeysRequest{PageSize: 1000}
				horizon := time.Now().Add(time.Duration(within.days) * 24 * time.Hour)
				overdue := false
				for {
					resp, err := c.ListKeys(ctx, req)
					if err != nil {
						return err
					}
					for _, k := range resp.Keys {
						for _, v := range k.Versions {
							if v.RotationDueTime == nil || !v.Overdue && v.RotationDueTime.AsTime().After(horizon) {
								continue
							}
							overdue = overdue || v.Overdue
							rows = append(rows, dueRow{Key: k.KeyId, Version: v.Version, Created: v.CreateTime.AsTime().UTC(),
								Due: v.RotationDueTime.AsTime().UTC(), Overdue: v.Overdue})
						}
					}
					if resp.NextPageToken == "" {
						break
					}
					req.PageToken = resp.NextPageToken
				}
				if err := e.printDue(rows); err != nil {
					return err
				}
				if overdue {
					return errInvalid
				}
				return nil
			}
		}},
}

type dueRow struct {
	Key     string    `json:"key_id"`
	Version uint32    `json:"version"`
	Created time.Time `json:"create_time"`
	Due     time.Time `json:"rotation_due_time"`
	Overdue bool      `json:"overdue"`
}

func (e *env) printDue(rows []dueRow) error {
	if e.json() {
		if rows == nil {
			rows = []dueRow{}
		}
		out, err := json.MarshalIndent(rows, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", out)
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tCREATED\tROTATION DUE\tSTATUS")
	for _, r := range rows {
		status := "due"
		if r.Overdue {
			status = "OVERDUE"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", r.Key, r.Version, r.Created.Format(time.RFC3339), r.Due.Format(time.RFC3339), status)
	}
	return tw.Flush()
}
