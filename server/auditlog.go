package server

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"os"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/audit/witness"
	"github.com/keygate/keygate/internal/kgerr"

	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/keys/keyring"
	"github.com/keygate/keygate/policy"
)

// chainAuditor records calls in the tamper-evident audit log.
type chainAuditor struct {
	log     *audit.Log
	signer  audit.Signer
	replica string
	// readers are the witnesses VerifyLog compares the store with; maxAge
	// is the checkpoint interval plus slack.
	readers []audit.WitnessReader
	maxAge  time.Duration
}

// kindOf gives a successful administrative call its event kind.
var kindOf = map[string]audit.Kind{
	"kms:CreateKey":              audit.KindKeyCreated,
	"keygate:AdoptKey":           audit.KindKeyCreated, // CreateKey over a backend key that already exists
	"kms:EnableKey":              audit.KindKeyEnabled,
	"kms:DisableKey":             audit.KindKeyDisabled,
	"kms:PutKeyPolicy":           audit.KindPolicyChanged,
	"keygate:ImportCertificate":  audit.KindCertImported,
	"keygate:ReadAuditLog":       audit.KindAuditRead,
	"keygate:CreateKeyVersion":   audit.KindKeyCreated,
	"keygate:ActivateKeyVersion": audit.KindKeyEnabled,
	"keygate:RetireKeyVersion":   audit.KindKeyDisabled,
	"kms:ScheduleKeyDeletion":    audit.KindKeyDisabled,
	"kms:CancelKeyDeletion":      audit.KindKeyDisabled, // back to RETIRED
	"keygate:DestroyKeyVersion":  audit.KindKeyDestroyed,
}

func (a *chainAuditor) Record(ctx context.Context, c *Call) error {
	e := a.eventOf(c)
	return a.log.Record(ctx, &e)
}

// eventOf is the audit event of a call as it stands.
func (a *chainAuditor) eventOf(c *Call) audit.Event {
	e := audit.Event{
		Time: c.Start, Kind: audit.KindCall, Replica: a.replica,
		Principal: c.Principal.ARN, CertSubject: clip(c.Principal.Subject), CertSerial: c.Principal.Serial,
		CertURI: c.Principal.URI, Peer: c.Peer, Action: c.Action, KeyName: c.KeyName, KeyVersion: c.Version,
		BackendKeyID: c.BackendKeyID, BackendRequestID: c.Backend.RequestID, Algorithm: c.Algorithm,
		Decision: c.Decision, Sid: c.Sid, Result: codeName(c.Err), Latency: c.Latency,
		Correlation: c.CorrelationID, Detail: clip(c.Detail),
	}
	if c.Err != nil {
		e.Error = kgerr.Message(c.Err)
	} else if k, ok := kindOf[c.Action]; ok && !c.held {
		e.Kind = k
	}
	if len(c.EncContext) > 0 {
		e.Context = a.log.HashContext(c.EncContext)
	}
	return e
}

// maxText bounds the free text an event carries from a certificate or a
// handler (a subject, a detail), so no request can bloat the log or make
// an event too large to record.
const maxText = 1024

// clip cuts s to maxText bytes on a UTF-8 boundary, marking the cut.
func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	cut := maxText - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// event records a server event (started, stopped) outside any call.
func (a *chainAuditor) event(ctx context.Context, kind audit.Kind, detail string) error {
	return a.log.Record(ctx, &audit.Event{Kind: kind, Replica: a.replica, Action: "keygate:" + string(kind), Result: audit.ResultOK, Detail: detail})
}

// openAudit opens the audit log on the server's store, creating the
// checkpoint key (audit.signing_key_spec in audit.signing_key_backend) on
// first start.
func (s *Server) openAudit(ctx context.Context) (*chainAuditor, *sqlstore.Store, error) {
	ac := s.cfg.Audit
	secret, err := os.ReadFile(ac.ContextSecretFile)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: context secret: %w", err)
	}
	e, err := s.keys.Resolve(ctx, ac.SigningKey)
	created := kgerr.KindOf(err) == kgerr.NotFound
	if created {
		e, err = s.keys.Create(ctx, keyring.CreateParams{Name: ac.SigningKey, Spec: ac.SigningKeySpec, Usage: keys.SignVerify,
			Backend: ac.SigningKeyBackend, Description: "signs audit log checkpoints; used by keygated only",
			Policy: policy.Default(s.cfg.Account, s.cfg.Admins)})
		if err != nil {
			return nil, nil, s.checkpointKeyError(err)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("audit: checkpoint key %q: %w", ac.SigningKey, err)
	}
	if e.Key.Spec != ac.SigningKeySpec || e.Key.Usage != keys.SignVerify {
		return nil, nil, fmt.Errorf("audit: checkpoint key %q is %s %s; the config says %s SIGN_VERIFY (audit.signing_key_spec)",
			ac.SigningKey, e.Key.Spec, e.Key.Usage, ac.SigningKeySpec)
	}
	_, h, err := e.Handle(0, true)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: checkpoint key: %w", err)
	}
	signer, err := audit.KeySigner(h)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: checkpoint key %q: %w", ac.SigningKey, err)
	}
	store, err := sqlstore.New(ctx, s.db)
	if err != nil {
		return nil, nil, err
	}
	ws, readers, err := s.openWitnesses(ctx, signer, store)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	metered, ws := s.metrics.meterAudit(store, ws)
	l, err := audit.New(audit.Config{Store: metered, Signer: signer, ContextSecret: secret, Replica: ac.Replica, Now: s.now,
		CheckpointEvery: ac.CheckpointEvery, CheckpointInterval: ac.CheckpointInterval, Witnesses: ws, MaxPending: ac.MaxPending,
		OnError: func(err error) { s.metrics.checkpointFails.Inc(); s.log.Error("audit log", "err", err) }})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	interval := ac.CheckpointInterval
	if interval <= 0 {
		interval = time.Minute // audit.New's default
	}
	s.metrics.watchAudit(l, metered, time.Now)
	a := &chainAuditor{log: l, signer: signer, replica: ac.Replica, readers: readers, maxAge: interval + ac.CheckpointSlack}
	if created {
		// The key predates the log it signs for, so its creation is
		// recorded now, as the log's first act.
		err := l.Record(ctx, &audit.Event{Kind: audit.KindKeyCreated, Replica: ac.Replica, Action: "kms:CreateKey",
			KeyName: ac.SigningKey, KeyVersion: 1, BackendKeyID: h.ID(), Result: audit.ResultOK,
			Detail: audit.RegistryDetail("audit checkpoint key created by keygated on first start", keys.RowDigest(e.Key))})
		if err != nil {
			l.Close(ctx)
			store.Close()
			return nil, nil, err
		}
	}
	// The checkpoint key was read before the log was open to check its row.
	if err := s.checkRow(ctx, store, e.Key, keys.RowDigest(e.Key)); err != nil {
		l.Close(ctx)
		store.Close()
		return nil, nil, fmt.Errorf("audit: checkpoint key: %w", err)
	}
	// A checkpoint at start: after downtime the newest checkpoint is fresh
	// again (verify would call it stale), and the tail the last run left
	// is checked and covered.
	if _, err := l.Checkpoint(ctx); err != nil {
		s.log.Error("audit: checkpoint at start", "err", err)
	}
	return a, store, nil
}

// openWitnesses builds the configured witnesses and refuses a store older
// than any that can be read back: someone removed checkpoints (and the
// events after them) that the witness saw.
func (s *Server) openWitnesses(ctx context.Context, signer audit.Signer, store audit.Store) ([]audit.Witness, []audit.WitnessReader, error) {
	wc := s.cfg.Audit.Witness
	var readers []audit.WitnessReader
	if wc.File != "" {
		readers = append(readers, witness.NewFile(wc.File))
	}
	if wc.S3 != nil {
		w, err := witness.NewS3(ctx, *wc.S3)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: %w", err)
		}
		readers = append(readers, w)
	}
	v, err := audit.NewVerifier(signer.Public())
	if err != nil {
		return nil, nil, err
	}
	problems, err := audit.CheckWitnesses(ctx, store, v, readers)
	if err != nil {
		return nil, nil, err
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("audit: refusing to start on a store older than its witness: %s", problems[0].Msg)
	}
	ws := make([]audit.Witness, 0, len(readers)+1)
	for _, r := range readers {
		ws = append(ws, r)
	}
	if wc.Log {
		ws = append(ws, witness.NewLog(s.log))
	}
	return ws, readers, nil
}

func (a *chainAuditor) signerPublic() crypto.PublicKey { return a.signer.Public() }

// auditHealth is the health service name that reports whether audit
// checkpoints are being signed.
const auditHealth = "keygate.v1.AuditService"

// watch reports the log's checkpointing in the health service and the log
// every interval until ctx ends: events the checkpoint key cannot sign for
// stay unprotected, which operators must hear about.
func (a *chainAuditor) watch(ctx context.Context, interval time.Duration, hs *health.Server, log *slog.Logger) {
	failing := false
	check := func() {
		st := a.log.Status()
		switch {
		case st.Err != nil && !failing:
			log.Error("audit checkpoints are failing; new events are unprotected", "err", st.Err, "head", st.Head.Seq, "checkpoint", st.Checkpoint.Seq)
			hs.SetServingStatus(auditHealth, healthpb.HealthCheckResponse_NOT_SERVING)
		case st.Err == nil:
			hs.SetServingStatus(auditHealth, healthpb.HealthCheckResponse_SERVING)
		}
		failing = st.Err != nil
	}
	check()
	every(ctx, interval, check)
}
