package server

import (
	"context"
	"log/slog"
	"slices"
)

// logAuditor writes each call as a structured log line. It is the auditor
// when no audit log is configured; it is not tamper-evident.
type logAuditor struct {
	log *slog.Logger
}

func (a logAuditor) Record(ctx context.Context, c *Call) error {
	ecKeys := make([]string, 0, len(c.EncContext))
	for k := range c.EncContext {
		ecKeys = append(ecKeys, k)
	}
	slices.Sort(ecKeys)
	a.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.String("action", c.Action), slog.String("principal", c.Principal.ARN),
		slog.String("identity", c.Principal.Identity), slog.String("peer", c.Peer),
		slog.String("key", c.KeyName), slog.Uint64("version", uint64(c.Version)),
		slog.String("backend_key_id", c.BackendKeyID), slog.String("algorithm", c.Algorithm),
		slog.Any("encryption_context_keys", ecKeys), slog.String("decision", c.Decision),
		slog.String("sid", c.Sid), slog.String("result", codeName(c.Err)),
		slog.String("request_id", c.Backend.RequestID), slog.String("correlation_id", c.CorrelationID),
		slog.Duration("latency", c.Latency))
	return nil
}
