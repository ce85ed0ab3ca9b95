package audit_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// toV1 rewrites a current archive as version 1 wrote it: each event line
// with its seq, hash and canonical body beside the readable copy.
func toV1(t testing.TB, archive string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(archive, "\n"), "\n") {
		var l map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		switch string(l["type"]) {
		case `"header"`:
			line = strings.Replace(line, audit.ArchiveFormat, audit.ArchiveFormatV1, 1)
		case `"event"`:
			var n int
			if err := audit.ReadArchive(strings.NewReader(line), func(e *audit.Event) error {
				body := audit.AppendCanonical(nil, e)
				h := sha256.Sum256(body)
				readable, err := e.MarshalJSON()
				if err != nil {
					return err
				}
				v1, err := json.Marshal(map[string]any{"type": "event", "seq": e.Seq, "hash": h[:], "body": body, "event": json.RawMessage(readable)})
				line, n = string(v1), n+1
				return err
			}); err != nil || n != 1 {
				t.Fatalf("reading %s: %v", line, err)
			}
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n"
}

// Version 1 archives (each event twice) still verify and read; the
// current format carries each event once, as its readable rendering.
func TestArchiveV1StillVerifies(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	sig := newSigner(t)
	v := verifier(t, sig)
	l := newLog(t, s, sig, "r")
	recordAt(t, l, 0, 10, t0)
	checkpoint(t, l)
	var buf bytes.Buffer
	if _, err := audit.Export(ctx, s, v, t0.AddDate(0, 1, 0), &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `"body"`) {
		t.Fatal("the archive carries canonical bodies beside the readable events")
	}
	v1 := toV1(t, buf.String())
	for name, archive := range map[string]string{"v2": buf.String(), "v1": v1} {
		rep, info, err := audit.VerifyArchive(strings.NewReader(archive), v)
		if err != nil || !rep.OK() || info.Events != 10 || rep.Protected != 10 {
			t.Fatalf("%s: %+v %+v %v", name, rep, info, err)
		}
		var seqs []uint64
		if err := audit.ReadArchive(strings.NewReader(archive), func(e *audit.Event) error {
			seqs = append(seqs, e.Seq)
			return nil
		}); err != nil || len(seqs) != 10 || seqs[9] != 10 {
			t.Fatalf("%s: ReadArchive: %v, %v", name, seqs, err)
		}
	}
	checkTamperedArchives(t, v1, v)
}

// A readable event in another rendering than the canonical one (another
// time zone, an unknown key, upper-case hex, a hash key) is refused: one event has one
// rendering, so the bytes rebuilt from it are the ones that were hashed.
func TestArchiveRefusesOtherRenderings(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	sig := newSigner(t)
	v := verifier(t, sig)
	l := newLog(t, s, sig, "r")
	recordAt(t, l, 0, 3, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	checkpoint(t, l)
	var buf bytes.Buffer
	if _, err := audit.Export(ctx, s, v, time.Now().Add(time.Hour), &buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	ev := lines[len(lines)-2] // the last event
	prev := regexp.MustCompile(`"prev_hash":"[0-9a-f]+"`).FindString(ev)
	for name, altered := range map[string]string{
		"time zone":   strings.Replace(ev, `Z","kind"`, `+00:00","kind"`, 1),
		"unknown key": strings.Replace(ev, `"seq":`, `"extra":1,"seq":`, 1),
		"hex case":    strings.Replace(ev, prev, strings.Replace(strings.ToUpper(prev), "PREV_HASH", "prev_hash", 1), 1),
		"with hash":   strings.Replace(ev, prev, prev+`,"hash":"`+strings.Repeat("0", 64)+`"`, 1),
	} {
		if altered == ev {
			t.Fatalf("%s: the test did not change the line", name)
		}
		archive := strings.Join(append(append([]string{}, lines[:len(lines)-2]...), altered, ""), "\n")
		if _, _, err := audit.VerifyArchive(strings.NewReader(archive), v); err == nil {
			t.Errorf("%s: the archive verified", name)
		}
	}
}

// BenchmarkArchiveBytes measures an archive's size per event, gzip -9, for
// 5,000 events like make bench's Sign calls (one principal and
// certificate, a new connection every 1,000 events), in the current
// format and as version 1 wrote it.
func BenchmarkArchiveBytes(b *testing.B) {
	s := openStore(b, filepath.Join(b.TempDir(), "a.db"))
	sig := newSigner(b)
	l := newLog(b, s, sig, "keygated-1")
	const n = 5000
	for i := range n {
		e := &audit.Event{Kind: audit.KindCall, Principal: "arn:aws:iam::111122223333:role/acs",
			CertSubject: "CN=acs,O=keygate test", CertSerial: "5f3c1a9b0e7d2c4f8a6b", CertURI: "spiffe://keygate.test/acs",
			Peer: fmt.Sprintf("127.0.0.1:%d", 40000+i/1000), Action: "kms:Sign", KeyName: "bench-sign", KeyVersion: 1,
			BackendKeyID: "6b65792d3031", Algorithm: "ECDSA_SHA_256", Decision: "Allow", Sid: "Bench", Result: "OK",
			Latency: time.Duration(150000 + i*37%90000)}
		if err := l.Record(context.Background(), e); err != nil {
			b.Fatal(err)
		}
	}
	checkpoint(b, l)
	var archive bytes.Buffer
	if _, err := audit.Export(context.Background(), s, verifier(b, sig), time.Now().Add(time.Hour), &archive); err != nil {
		b.Fatal(err)
	}
	for name, a := range map[string][]byte{"v2": archive.Bytes(), "v1": []byte(toV1(b, archive.String()))} {
		b.Run(name, func(b *testing.B) {
			var size int
			for range b.N {
				var gz bytes.Buffer
				w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
				w.Write(a)
				w.Close()
				size = gz.Len()
			}
			b.ReportMetric(float64(len(a))/n, "raw-B/event")
			b.ReportMetric(float64(size)/n, "gzip-B/event")
		})
	}
}
