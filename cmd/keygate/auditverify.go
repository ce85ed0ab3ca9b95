package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
)

// auditVerifyCommands prove the audit log intact: through the server, or
// offline from the database or an exported archive and the checkpoint
// public key, for an assessor who does not trust the server.
var auditVerifyCommands = []*command{
	{path: "audit verify", summary: "verify the audit log's hash chain and signed checkpoints: exit 1 when broken",
		detail: "Online by default (the server verifies its own store). Offline, with no\n" +
			"server, against a database file or DSN, or an archive, plus the checkpoint\n" +
			"public key (from `keygate audit checkpoint-key`), trusting nothing else:\n" +
			"  keygate audit verify --db keygate.db --checkpoint-key audit-key.pem\n" +
			"  keygate audit verify --db postgres://auditor@db/keygate --checkpoint-key audit-key.pem\n" +
			"  keygate audit verify --archive audit-2026-11.jsonl --checkpoint-key audit-key.pem\n" +
			"Offline, --witness-file and --witness-s3 compare the store with the checkpoints\n" +
			"published outside it (a store older than its witness was rolled back), and\n" +
			"--max-age flags a newest checkpoint older than that (interval plus slack):\n" +
			"  keygate audit verify --db keygate.db --checkpoint-key audit-key.pem \\\n" +
			"    --witness-s3 s3://acme-keygate-witness/prod/ --max-age 2m",
		setup: func(fs *flag.FlagSet) action {
			db := fs.String("db", "", "verify this store offline: a SQLite file or a postgres:// DSN (opened read-only)")
			archive := fs.String("archive", "", "verify this exported archive offline (\"-\" = stdin)")
			keyFile := fs.String("checkpoint-key", "", "checkpoint public key (PEM) for --db or --archive")
			offline := fs.Bool("offline", false, "never ask the server: refuse unless --db or --archive is given")
			var w witnessFlags
			w.setup(fs)
			return func(ctx context.Context, e *env, _ []string) error {
				if *offline && *db == "" && *archive == "" {
					return usageErr("--offline needs --db DSN or --archive FILE, and --checkpoint-key PEM")
				}
				if w.set() && *db == "" {
					return usageErr("--witness-file, --witness-s3 and --max-age go with --db (online, the server uses its configured witnesses)")
				}
				opts, err := w.options(ctx)
				if err != nil {
					return err
				}
				resp, err := e.verifyLog(ctx, *db, *archive, *keyFile, opts)
				if err != nil {
					return err
				}
				if e.json() {
					err = e.printJSON(resp, nil)
				} else if err = printVerify(e, resp); err == nil && *archive == "" {
					// What was pruned, by whom, and which archive holds it.
					var last *audit.Event
					if last, err = e.lastPrune(ctx, *db); last != nil {
						fmt.Fprintln(e.stdout, pruneNote(last))
					}
				}
				if err == nil && !resp.Ok {
					return errInvalid
				}
				return err
			}
		}},
	{path: "audit checkpoint-key", summary: "print the public key that signs audit checkpoints (PEM)",
		setup: func(fs *flag.FlagSet) action {
			out := fs.String("out", "", "write the PEM to this file instead of stdout")
			return func(ctx context.Context, e *env, _ []string) error {
				c, err := e.audit()
				if err != nil {
					return err
				}
				resp, err := c.GetCheckpointKey(ctx, &pb.GetCheckpointKeyRequest{})
				switch {
				case err != nil:
					return err
				case *out != "":
					return e.write(*out, []byte(resp.PublicKeyPem))
				case e.json():
					return e.printJSON(resp, nil)
				}
				_, err = fmt.Fprint(e.stdout, resp.PublicKeyPem)
				return err
			}
		}},
	{path: "audit archive", aliases: []string{"audit export"}, stream: true,
		summary: "export a signed, verifiable archive of the log up to a date (before audit prune)",
		detail: "The archive runs from the store's base to the last signed checkpoint before\n" +
			"--until, as JSON lines (audit/RETENTION.md). With --out FILE the file appears\n" +
			"only when complete, and the segment's seqs are printed:\n" +
			"  keygate audit archive --until 2026-08-01 --out audit-2026-07.jsonl",
		setup: func(fs *flag.FlagSet) action {
			out := fs.String("out", "-", "archive file (JSON lines; \"-\" = stdout)")
			until := fs.String("until", "", "archive events before this time: RFC 3339, YYYY-MM-DD (midnight UTC) or a duration ago (default: now)")
			return func(ctx context.Context, e *env, _ []string) error {
				if *out == "-" && e.json() {
					return usageErr("--out - and --output json both write stdout; give --out FILE")
				}
				ts, err := parseWhen(*until, "until", time.Now())
				if err != nil {
					return err
				}
				if ts == nil {
					ts = timestamppb.Now()
				}
				c, err := e.audit()
				if err != nil {
					return err
				}
				stream, err := c.ExportArchive(ctx, &pb.ExportArchiveRequest{Until: ts})
				if err != nil {
					return err
				}
				var head archiveHeader
				err = e.writeStream(*out, func() ([]byte, error) {
					resp, err := stream.Recv()
					head.sniff(resp.GetData())
					return resp.GetData(), err
				})
				if err != nil || *out == "-" {
					return err
				}
				return head.print(e, *out)
			}
		}},
}

// verifyLog verifies online, or offline when db or archive is set.
func (e *env) verifyLog(ctx context.Context, db, archive, keyFile string, opts audit.VerifyOptions) (*pb.VerifyLogResponse, error) {
	if db == "" && archive == "" {
		if keyFile != "" {
			return nil, usageErr("--checkpoint-key goes with --db or --archive")
		}
		c, err := e.audit()
		if err != nil {
			return nil, err
		}
		return c.VerifyLog(ctx, &pb.VerifyLogRequest{})
	}
	if db != "" && archive != "" {
		return nil, usageErr("--db and --archive: pick one")
	}
	pemKey, err := e.read("checkpoint-key", keyFile)
	if err != nil {
		return nil, err
	}
	var r *audit.Report
	if db != "" {
		r, err = sqlstore.VerifyWith(ctx, db, pemKey, opts)
	} else {
		var v *audit.Verifier
		if v, err = audit.ParsePublicKeyPEM(pemKey); err != nil {
			return nil, usageErr("--checkpoint-key: %v", err)
		}
		var f *os.File
		if archive == "-" {
			r, _, err = audit.VerifyArchive(e.stdin, v)
		} else if f, err = os.Open(archive); err == nil {
			r, _, err = audit.VerifyArchive(f, v)
			f.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("offline verification: %w", err)
	}
	return server.VerifyLogResponse(r), nil
}

func printVerify(e *env, r *pb.VerifyLogResponse) error {
	verdict := "intact"
	if !r.Ok {
		verdict = fmt.Sprintf("BROKEN (%d problems)", len(r.Problems))
	}
	fmt.Fprintf(e.stdout, "audit log %s: %d events, %d checkpoints\n", verdict, r.Events, r.Checkpoints)
	fmt.Fprintf(e.stdout, "head: seq %d, hash %s\n", r.HeadSeq, hex.EncodeToString(r.HeadHash))
	fmt.Fprintf(e.stdout, "signed checkpoints vouch for events up to seq %d; %d after it are not yet covered\n", r.Protected, r.Unprotected)
	for _, p := range r.Problems {
		fmt.Fprintf(e.stdout, "problem: seq %d: %s: %s\n", p.Seq, p.Kind, p.Message)
	}
	return nil
}
