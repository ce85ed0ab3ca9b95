package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// evilEvent carries what issue 11 item 8 injected: a key name with an ANSI
// escape and a newline forging a second row, a formula as x-request-id,
// a right-to-left override, an 8-bit CSI and a formula as a context key.
func evilEvent() *pb.AuditEvent {
	return &pb.AuditEvent{Seq: 7, Time: timestamppb.New(time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)),
		Kind: "call", Principal: "arn:aws:iam::111122223333:role/acs", Action: "kms:Sign",
		KeyName:       "k\x1b[2J\n8  2026-11-29T12:00:00.000Z  call  admin  kms:Sign  fake  OK",
		CorrelationId: "=cmd|' /C calc'!A0", Detail: "invoice\u202egpj.exe \u009b31m", Result: "OK",
		EncryptionContext: []*pb.ContextField{{Key: "@SUM(1)\r\n", ValueHmac: "ab"}},
		Error:             "-2+3", Sid: "+x", Decision: "Allow"}
}

// rawControl finds a byte or rune a terminal would act on.
func rawControl(s string, allowNewline bool) (rune, bool) {
	for _, r := range s {
		if r == '\n' && allowNewline {
			continue
		}
		if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '\u202e' {
			return r, true
		}
	}
	return 0, false
}

func TestEventTableEscapes(t *testing.T) {
	row := eventRow(evilEvent(), "  ")
	if r, bad := rawControl(row, false); bad {
		t.Fatalf("table row holds raw %U: %q", r, row)
	}
	for _, want := range []string{`k\x1b[2J\n8`, "kms:Sign"} {
		if !strings.Contains(row, want) {
			t.Errorf("table row %q lacks %q", row, want)
		}
	}
	if got := sanitizeText(`a\b`); got != `a\\b` {
		t.Errorf("a backslash is not escaped, so \\n typed by a caller would look like an escape: %q", got)
	}
	if got := sanitizeText("café 3DS 中文"); got != "café 3DS 中文" {
		t.Errorf("printable text was changed: %q", got)
	}
}

func TestEventCSVNeutralizesFormulasAndControls(t *testing.T) {
	var buf bytes.Buffer
	w, err := newEventCSV(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.write(evilEvent()); err != nil {
		t.Fatal(err)
	}
	if r, bad := rawControl(buf.String(), true); bad {
		t.Fatalf("CSV holds raw %U:\n%s", r, buf.String())
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("CSV: %d rows, %v; want the header and one event", len(rows), err)
	}
	cell := map[string]string{}
	for i, c := range eventColumns {
		cell[c] = rows[1][i]
	}
	for col, want := range map[string]string{
		"correlation_id": "'=cmd|' /C calc'!A0", "error": "'-2+3", "sid": "'+x",
		"key_name": `k\x1b[2J\n8  2026-11-29T12:00:00.000Z  call  admin  kms:Sign  fake  OK`,
		"detail":   `invoice\u202egpj.exe \u009b31m`,
	} {
		if cell[col] != want {
			t.Errorf("%s = %q, want %q", col, cell[col], want)
		}
	}
	if cell["encryption_context"] != `{"@SUM(1)\r\n":"ab"}` {
		t.Errorf("encryption_context = %q", cell["encryption_context"])
	}
}

func TestEventJSONEscapesWhatTerminalsActOn(t *testing.T) {
	var buf bytes.Buffer
	e := &env{stdout: &buf}
	ev := evilEvent()
	if err := e.printJSONLine(ev); err != nil {
		t.Fatal(err)
	}
	out := strings.TrimSuffix(buf.String(), "\n")
	if r, bad := rawControl(out, false); bad {
		t.Fatalf("JSON holds raw %U: %s", r, out)
	}
	// The escapes are JSON's own: the values decode unchanged.
	var got struct {
		KeyName string `json:"key_name"`
		Detail  string `json:"detail"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.KeyName != ev.KeyName || got.Detail != ev.Detail {
		t.Fatalf("JSON changed the values: %q %q", got.KeyName, got.Detail)
	}
}
