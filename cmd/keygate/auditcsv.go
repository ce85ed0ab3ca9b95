package main

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// eventColumns are the CSV header: every field of an event, in proto
// order, under its proto name. latency_ns is an integer so tools can sum
// it; hashes are hex; encryption_context is a JSON object of each key's
// value HMAC (empty when the call had none).
var eventColumns = []string{"seq", "time", "kind", "replica", "principal", "cert_subject", "cert_serial",
	"cert_uri", "peer", "action", "key_name", "key_version", "backend_key_id", "backend_request_id",
	"algorithm", "decision", "sid", "result", "error", "latency_ns", "encryption_context",
	"correlation_id", "detail", "prev_hash", "hash"}

// eventCSV writes events as RFC 4180 rows (encoding/csv quotes commas and
// quotes; csvCell escapes control characters and defuses formulas),
// flushed after each batch so a tail shows at once.
type eventCSV struct{ w *csv.Writer }

func newEventCSV(w io.Writer) (*eventCSV, error) {
	c := &eventCSV{csv.NewWriter(w)}
	return c, c.flush(eventColumns)
}

func (c *eventCSV) write(events ...*pb.AuditEvent) error {
	for _, ev := range events {
		if err := c.w.Write(eventRecord(ev)); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *eventCSV) flush(row []string) error {
	if err := c.w.Write(row); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}

func eventRecord(ev *pb.AuditEvent) []string {
	ec := ""
	if len(ev.EncryptionContext) > 0 {
		m := make(map[string]string, len(ev.EncryptionContext))
		for _, f := range ev.EncryptionContext {
			m[f.Key] = f.ValueHmac
		}
		b, _ := json.Marshal(m) // a map of strings always marshals; keys sorted
		ec = string(escapeJSON(b))
	}
	latency := ""
	if ev.Latency != nil {
		latency = fmt.Sprint(ev.Latency.AsDuration().Nanoseconds())
	}
	row := []string{fmt.Sprint(ev.Seq), ev.Time.AsTime().UTC().Format(time.RFC3339Nano), ev.Kind, ev.Replica,
		ev.Principal, ev.CertSubject, ev.CertSerial, ev.CertUri, ev.Peer, ev.Action, ev.KeyName,
		fmt.Sprint(ev.KeyVersion), ev.BackendKeyId, ev.BackendRequestId, ev.Algorithm, ev.Decision, ev.Sid,
		ev.Result, ev.Error, latency, ec, ev.CorrelationId, ev.Detail,
		hex.EncodeToString(ev.PrevHash), hex.EncodeToString(ev.Hash)}
	for i := range row {
		if eventColumns[i] != "encryption_context" { // JSON, escaped already
			row[i] = csvCell(row[i])
		}
	}
	return row
}
