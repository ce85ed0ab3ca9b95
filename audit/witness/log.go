package witness

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/keygate/keygate/audit"
)

// Log writes each checkpoint as one structured log line ("audit
// checkpoint", with every signed field), for the SIEM that collects
// keygated's log: a copy the database's writer cannot recall. It cannot be
// read back; compare the SIEM's newest line with `keygate audit verify`.
type Log struct{ l *slog.Logger }

var _ audit.Witness = Log{}

// NewLog writes to l.
func NewLog(l *slog.Logger) Log { return Log{l: l} }

// Name implements audit.Witness.
func (Log) Name() string { return "log" }

// Publish logs c at Info.
func (w Log) Publish(ctx context.Context, c audit.Checkpoint) error {
	w.l.LogAttrs(ctx, slog.LevelInfo, "audit checkpoint",
		slog.Uint64("counter", c.Counter), slog.String("prev", hex.EncodeToString(c.Prev[:])),
		slog.Uint64("seq", c.Seq), slog.String("head", hex.EncodeToString(c.Head[:])),
		slog.String("time", c.Time.UTC().Format(time.RFC3339Nano)), slog.String("key_id", c.KeyID),
		slog.String("signature", base64.StdEncoding.EncodeToString(c.Signature)))
	return nil
}
