package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
)

// toV1 rewrites a current archive as version 1 wrote it: each event line
// with its seq, hash and canonical body beside the readable copy.
func toV1(t *testing.T, archive string) string {
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
				v1, err := json.Marshal(map[string]any{"type": "event", "seq": e.Seq, "hash": h[:], "body": body, "event": l["event"]})
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
// time zone, an unknown key, upper-case hex) is refused: one event has one
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
