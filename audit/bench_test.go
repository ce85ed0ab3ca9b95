package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
)

// benchCallers is the number of concurrent callers (the brief: 16).
var benchCallers = 16

// parallel16 runs body in benchCallers goroutines whatever GOMAXPROCS is,
// and reports the process's CPU time (user+system) per op, which a shared,
// loaded machine disturbs far less than ns/op. PostgreSQL's own CPU is in
// another process and not counted.
func parallel16(b *testing.B, body func(*testing.PB)) {
	b.SetParallelism((benchCallers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	before := cpuTime()
	b.RunParallel(body)
	b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecord is the hot path: 16 concurrent callers, group commit,
// SQLite in WAL with synchronous=FULL, a checkpoint every 1000 events (the
// default), each verifying the chain since the previous one.
func BenchmarkRecord(b *testing.B) {
	for _, bk := range stores {
		b.Run(bk.name, func(b *testing.B) {
			s := openStore(b, bk.dsn(b))
			l, err := audit.New(audit.Config{Store: s, Signer: newSigner(b), ContextSecret: secret, Replica: "r"})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			proto := callEvent(l, 1)
			b.ReportAllocs()
			b.ResetTimer()
			parallel16(b, func(pb *testing.PB) {
				for pb.Next() {
					e := *proto
					e.Time = proto.Time
					if err := l.Record(context.Background(), &e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(storedBytes(b, s, bk.name == "postgres"), "stored-B/event")
		})
	}
}

// storedBytes is the size per event of the pages holding the events,
// their indexes and the string table: in SQLite from dbstat, as make bench
// measures keygated's store; in PostgreSQL the relations' total size
// (indexes and TOAST included) after a VACUUM.
func storedBytes(b *testing.B, s *sqlstore.Store, pg bool) float64 {
	var n, size float64
	db := s.DB()
	if err := db.QueryRow("SELECT COUNT(*) FROM audit_events").Scan(&n); err != nil || n == 0 {
		b.Fatalf("counting events: %v", err)
	}
	q := `SELECT SUM(pgsize) FROM dbstat WHERE name LIKE 'audit_events%' OR name LIKE 'audit_strings%'
		OR name LIKE 'sqlite_autoindex_audit_strings%'`
	if pg {
		if _, err := db.Exec("VACUUM audit_events"); err != nil {
			b.Fatal(err)
		}
		q = `SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c
			WHERE c.relname IN ('audit_events', 'audit_strings') AND c.relnamespace = current_schema()::regnamespace`
	}
	if err := db.QueryRow(q).Scan(&size); err != nil {
		b.Fatalf("table sizes: %v", err)
	}
	return size / n
}

// BenchmarkOneTxPerEvent is the baseline group commit is measured
// against: the same 16 callers, each event in its own transaction, queued
// on a mutex as a log without group commit would queue them (SQLite's
// busy handler alone is unfair enough to starve a caller past its
// timeout).
func BenchmarkOneTxPerEvent(b *testing.B) {
	for _, bk := range stores {
		b.Run(bk.name, func(b *testing.B) {
			s := openStore(b, bk.dsn(b))
			l := newLog(b, s, newSigner(b), "r")
			proto := callEvent(l, 1)
			var mu sync.Mutex
			b.ReportAllocs()
			b.ResetTimer()
			parallel16(b, func(pb *testing.PB) {
				for pb.Next() {
					e := *proto
					mu.Lock()
					_, err := s.Append(context.Background(), func(h audit.Head) ([]audit.Record, error) {
						e.Seq, e.PrevHash = h.Seq+1, h.Hash
						body := audit.AppendCanonical(nil, &e)
						e.Hash = sha256.Sum256(body)
						return []audit.Record{{Seq: e.Seq, TimeNs: e.Time.UnixNano(), Kind: e.Kind,
							Principal: e.Principal, Action: e.Action, KeyName: e.KeyName, Result: e.Result,
							Hash: e.Hash, Body: body}}, nil
					})
					mu.Unlock()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSignWithAudit estimates what the server measures: 16 callers
// each signing a digest with a software P-256 key (far cheaper than a call
// through gRPC to an HSM, so the ratio here is a lower bound) and, with the
// log on, recording the call before answering; ratio = off ns/op / on
// ns/op. on-sync-normal is SQLite without an fsync per commit (durable
// through a crash of keygated, not of the machine). on-file-only is the
// floor of an append-only segment file (appendOnlyFile): each group commit
// written to one file and fdatasynced, with no SQL index and no reads.
func BenchmarkSignWithAudit(b *testing.B) {
	key := newSigner(b)
	digest := sha256.Sum256([]byte("acsSignedContent"))
	for _, mode := range []struct {
		name   string
		on     bool
		params string
	}{{"off", false, ""}, {"on", true, ""}, {"on-sync-normal", true, "?_synchronous=NORMAL"}, {"on-file-only", true, ""}} {
		on := mode.on
		b.Run(mode.name, func(b *testing.B) {
			cfg := audit.Config{Store: openStore(b, stores[0].dsn(b)+mode.params), Signer: newSigner(b), ContextSecret: secret, Replica: "r"}
			if mode.name == "on-file-only" {
				// Nothing to checkpoint: the file cannot be read back.
				cfg.Store, cfg.CheckpointEvery, cfg.CheckpointInterval = newAppendOnlyFile(b, cfg.Store), 1<<30, time.Hour
			}
			l, err := audit.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			proto := callEvent(l, 1)
			b.ResetTimer()
			parallel16(b, func(pb *testing.PB) {
				for pb.Next() {
					if _, err := key.Sign(context.Background(), digest[:]); err != nil {
						b.Error(err)
						return
					}
					if on {
						e := *proto
						if err := l.Record(context.Background(), &e); err != nil {
							b.Error(err)
							return
						}
					}
				}
			})
		})
	}
}

// appendOnlyFile is a measuring stick, not a store: the least an
// append-only segment file could cost the audit log's writer. Each group
// commit's records go to one file, length-prefixed, and one fdatasync
// makes them durable. Nothing is indexed and nothing can be read back, so
// a real design would add both; the rest of audit.Store is the SQLite
// store it wraps (checkpoints, read only at Close).
type appendOnlyFile struct {
	audit.Store
	f    *os.File
	head audit.Head
	buf  []byte
}

func newAppendOnlyFile(b *testing.B, s audit.Store) *appendOnlyFile {
	f, err := os.Create(filepath.Join(b.TempDir(), "segment"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	return &appendOnlyFile{Store: s, f: f}
}

// Append is called by the log's one writer goroutine only.
func (s *appendOnlyFile) Append(ctx context.Context, link func(audit.Head) ([]audit.Record, error)) (audit.Head, error) {
	recs, err := link(s.head)
	if err != nil || len(recs) == 0 {
		return s.head, err
	}
	s.buf = s.buf[:0]
	for _, r := range recs {
		s.buf = binary.AppendUvarint(s.buf, uint64(len(r.Body)))
		s.buf = append(s.buf, r.Body...)
	}
	if _, err := s.f.Write(s.buf); err != nil {
		return s.head, err
	}
	if err := syscall.Fdatasync(int(s.f.Fd())); err != nil {
		return s.head, err
	}
	last := recs[len(recs)-1]
	s.head = audit.Head{Seq: last.Seq, Hash: last.Hash}
	return s.head, nil
}

// BenchmarkFdatasync is the disk's share of every durable group commit on
// this machine: a 4 KiB write within a file and an fdatasync, as a WAL
// frame rewritten after a checkpoint is, and one that grows the file
// (which also commits the file system's journal). cpu-ns/op is the kernel
// time the sync costs the process, which no store design avoids.
func BenchmarkFdatasync(b *testing.B) {
	for _, grow := range []bool{false, true} {
		name := "overwrite"
		if grow {
			name = "append"
		}
		b.Run(name, func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "f"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			page := make([]byte, 4096)
			for i := range 16 {
				f.WriteAt(page, int64(i)*4096)
			}
			f.Sync()
			before := cpuTime()
			b.ResetTimer()
			for i := range b.N {
				off := int64(i%16) * 4096
				if grow {
					off = int64(16+i) * 4096
				}
				if _, err := f.WriteAt(page, off); err != nil {
					b.Fatal(err)
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
		})
	}
}
