package load

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// report holds a BenchmarkGateway run and prints it.
type report struct {
	res           map[string][]result
	rssOn, rssOff int64
	events        uint64   // events in the audit log at the end
	online        float64  // bytes per event: the events table, its indexes and the string table
	tables        []string // the same by table and index
	body          float64  // the stored body's mean size (compact form)
	wal           int64    // the WAL file's size at the end
	archived      float64  // bytes per event of the exported archive
	gzipped       float64  // the same, gzip -9
	storageErr    error
}

// median is the result with the median ops/s of a path's rounds.
func (r *report) median(name string, c int) result {
	rs := slices.Clone(r.res[key(name, c)])
	slices.SortFunc(rs, func(a, b result) int {
		switch {
		case a.ops < b.ops:
			return -1
		case a.ops > b.ops:
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}

func (r *report) print(w io.Writer, paths []path, d time.Duration) {
	fmt.Fprintf(w, "\nkeygate gateway benchmark: medians of %d interleaved rounds of %v per path; %d CPUs; load average %s\n",
		rounds, d, numCPU(), loadAvg())
	fmt.Fprintf(w, "%-4s %-26s %9s %8s %8s %9s\n", "c", "path", "ops/s", "p50 ms", "p99 ms", "CPU µs")
	for _, c := range concurrencies {
		for _, p := range paths {
			m := r.median(p.name, c)
			fmt.Fprintf(w, "%-4d %-26s %9.0f %8.2f %8.2f %9.0f\n", c, p.name, m.ops, ms(m.p50), ms(m.p99), float64(m.cpuPer)/1e3)
		}
	}
	const c = 16
	ops := func(name string) float64 { return r.median(name, c).ops }
	floor, direct := ops("health (floor)"), ops("direct PKCS#11")
	composed := 1 / (1/floor + 1/direct)
	sign := ops("Sign")
	fmt.Fprintf(w, "\ntargets at c=%d (composed limit 1/(1/floor+1/direct) = %.0f ops/s)\n", c, composed)
	target := func(what string, got, want float64) {
		held := "NOT HELD"
		if got >= want {
			held = "held"
		}
		fmt.Fprintf(w, "  %-52s %6.2f (target ≥ %.2f) %s\n", what, got, want, held)
	}
	atMost := func(what string, got, want float64, unit string) {
		held := "NOT HELD"
		if got <= want {
			held = "held"
		}
		fmt.Fprintf(w, "  %-52s %6.1f %s (target ≤ %.0f) %s\n", what, got, unit, want, held)
	}
	target("GetPublicKey / health floor", ops("GetPublicKey")/floor, 0.7)
	target("Sign / composed limit", sign/composed, 0.8)
	atMost("Sign p99 vs direct PKCS#11 p99 ("+fmt.Sprintf("%.1f", ms(r.median("direct PKCS#11", c).p99))+" ms)",
		ms(r.median("Sign", c).p99), ms(r.median("direct PKCS#11", c).p99), "ms")
	target("CreateAcsSession / Sign", ops("CreateAcsSession")/sign, 0.5)
	target("DecryptChallengeRequest / Sign", ops("DecryptChallengeRequest")/sign, 0.8)
	target("EncryptChallengeResponse / Sign", ops("EncryptChallengeResponse")/sign, 0.8)
	target("Sign audit on / off", sign/ops("Sign audit off"), 0.85)
	fmt.Fprintf(w, "  %-52s %6.2f (no target)\n", "GetPublicKey audit on / off", ops("GetPublicKey")/ops("GetPublicKey audit off"))
	// The store on PostgreSQL (keygated's CPU column leaves out
	// PostgreSQL's own processes); audit off is the SQLite process's, whose
	// calls do not touch the store.
	signPG := ops("Sign PostgreSQL")
	target("PostgreSQL: GetPublicKey / health floor", ops("GetPublicKey PostgreSQL")/floor, 0.7)
	target("PostgreSQL: Sign / composed limit", signPG/composed, 0.8)
	target("PostgreSQL: CreateAcsSession / Sign", ops("CreateAcsSession PostgreSQL")/signPG, 0.5)
	target("PostgreSQL: Sign audit on / off", signPG/ops("Sign audit off"), 0.85)
	atMost("server peak RSS, audit on", float64(r.rssOn)/(1<<20), 150, "MB")
	fmt.Fprintln(w, "  Sign ≥ 2 × OpenBao Transit: not measured by make bench (no OpenBao on this machine)")
	if r.storageErr != nil {
		fmt.Fprintf(w, "  audit storage: not measured: %v\n", r.storageErr)
		return
	}
	atMost(fmt.Sprintf("audit bytes per event online (%d events)", r.events), r.online, 200, "B")
	fmt.Fprintf(w, "    by table and index, bytes per event: %s; mean stored body %.0f B\n", strings.Join(r.tables, ", "), r.body)
	fmt.Fprintf(w, "  %-52s %6.1f MB\n", "  (WAL file at the end)", float64(r.wal)/(1<<20))
	atMost("audit bytes per event, archive gzip -9", r.gzipped, 60, "B")
	fmt.Fprintf(w, "  %-52s %6.1f B\n", "  (archive as exported, uncompressed)", r.archived)
}

// storage measures the audit log's size per event: online, the pages of the
// events table and its indexes in the SQLite store (dbstat), and archived,
// an archive exported through the audit-on process, gzipped.
func (r *report) storage(env *harness.Env, p *harness.Process) {
	ctx := context.Background()
	r.storageErr = func() error {
		db, err := sql.Open("sqlite", "file:"+env.Config.Store.DSN+"?mode=ro")
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(AVG(LENGTH(body)), 0) FROM audit_events`).Scan(&r.events, &r.body); err != nil {
			return err
		}
		if r.events == 0 {
			return fmt.Errorf("no audit events")
		}
		rows, err := db.QueryContext(ctx, `SELECT name, SUM(pgsize) FROM dbstat
			WHERE name = 'audit_events' OR name LIKE 'audit_events_%' OR name = 'audit_strings'
			OR name LIKE 'sqlite_autoindex_audit_strings%' GROUP BY name ORDER BY name`)
		if err != nil {
			return fmt.Errorf("dbstat: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var size int64
			if err := rows.Scan(&name, &size); err != nil {
				return err
			}
			r.tables = append(r.tables, fmt.Sprintf("%s %.0f", name, float64(size)/float64(r.events)))
			r.online += float64(size) / float64(r.events)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if fi, err := os.Stat(env.Config.Store.DSN + "-wal"); err == nil {
			r.wal = fi.Size()
		}
		stream, err := pb.NewAuditServiceClient(env.ProcessConn(p, "admin")).ExportArchive(ctx,
			&pb.ExportArchiveRequest{Until: timestamppb.New(time.Now().Add(time.Hour))})
		if err != nil {
			return err
		}
		var raw bytes.Buffer
		for {
			m, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				return fmt.Errorf("export archive: %w", err)
			}
			raw.Write(m.Data)
		}
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		zw.Write(raw.Bytes())
		zw.Close()
		// The archive ends at the last checkpoint: count its event lines.
		n := bytes.Count(raw.Bytes(), []byte(`{"type":"event"`))
		if n == 0 {
			return fmt.Errorf("the archive holds no events")
		}
		r.archived = float64(raw.Len()) / float64(n)
		r.gzipped = float64(gz.Len()) / float64(n)
		return nil
	}()
}

func numCPU() int {
	n := 0
	raw, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range bytes.Split(raw, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("processor")) {
			n++
		}
	}
	return n
}

func loadAvg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	f := bytes.Fields(raw)
	if len(f) < 3 {
		return "unknown"
	}
	return string(bytes.Join(f[:3], []byte(" ")))
}
