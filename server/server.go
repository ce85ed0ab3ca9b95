package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/fips"
	"github.com/keygate/keygate/internal/logrepeat"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/keys/keyring"
	keysql "github.com/keygate/keygate/keys/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/threeds"
)

// Server is a configured keygated.
type Server struct {
	cfg        *Config
	log        *slog.Logger
	db         *sqldb.DB
	backends   map[string]backends.Backend
	keys       *keyring.Keyring
	authz      *policyAuthorizer
	rec        recorder
	reload     reloader
	healthGRPC *grpc.Server  // the plaintext health listener's (healthport.go)
	rowAlarm   alarmOnce     // registry rows changed outside keygate, logged once each (registry.go)
	chain      *chainAuditor // nil when the audit log is disabled
	auditStore *sqlstore.Store
	keyStore   *keysql.Store
	holder     string // this process in store leases
	threeds    *threeDSService
	sweepCtx   context.Context // the background loops' (made in New: Shutdown may come before Serve)
	stopSweep  context.CancelFunc
	health     *health.Server
	ready      *readiness // the overall health (readiness.go)
	admission  *admission // in-flight limits (admission.go)
	closeOnce  sync.Once
	closeErr   error
	grpc       *grpc.Server
	metrics    *metrics
	tracer     trace.Tracer // nil when tracing is off
	stopTrace  func(context.Context) error

	// now is the server's clock: Options.Now, or clock.go's.
	now func() time.Time

	recoverUnary  grpc.UnaryServerInterceptor
	recoverStream grpc.StreamServerInterceptor

	// writes group-commits calls' store writes with their events (callwrite.go).
	writes *writeBatcher
	// ids keeps each connection's resolved caller (connident.go).
	ids identities
	// handshakes counts, logs and audits failed TLS handshakes (handshake.go).
	handshakes *handshakeFailures
}

// Options adjust a server beyond its config.
type Options struct {
	// Now is the server's clock: the policy's aws:CurrentTime, cryptoperiods,
	// deletion waiting periods; nil means time.Now. Tests pass a clock they move.
	Now func() time.Time
	// TracerProvider, if set, traces calls instead of tracing.otlp_endpoint
	// (tests pass one with an in-memory exporter).
	TracerProvider trace.TracerProvider
	// ConfigPath is the config file Reload reads again for the principal
	// mapping and TLS files; empty reloads the TLS files only.
	ConfigPath string
}

// New opens the store and the backends and builds the gRPC server. The
// caller must Close it.
func New(ctx context.Context, cfg *Config, log *slog.Logger, opts Options) (*Server, error) {
	log = slog.New(logrepeat.New(log.Handler(), cfg.Log.RepeatInterval))
	if err := checkFIPS(cfg, log); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, backends: map[string]backends.Backend{}, metrics: newMetrics(), writes: newWriteBatcher()}
	if opts.Now == nil {
		opts.Now = newClock().now
	}
	s.now = opts.Now
	s.sweepCtx, s.stopSweep = context.WithCancel(context.Background())
	first, err := newLive(cfg, time.Now())
	if err != nil {
		return nil, err
	}
	s.reload.cur.Store(first)
	s.reload.path = opts.ConfigPath
	s.reload.seen, _ = s.filesHash()
	if s.db, err = sqldb.Open(cfg.Store.Driver, cfg.StoreDSN()); err != nil {
		return nil, err
	}
	store, err := keysql.New(ctx, s.db)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.keyStore, s.holder = store, newHolder(cfg.Audit.Replica)
	for _, bc := range cfg.Backends {
		b, err := backends.Open(ctx, bc.Type, bc.Name, &bc.Config)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.backends[bc.Name] = b
		logCapabilities(log, bc.Name, b)
	}
	s.keys = keyring.New(store, s.backends, keyring.Options{ARN: cfg.KeyARN, Refresh: cfg.KeyRefresh, MaxStale: cfg.KeyMaxStale, Now: opts.Now,
		Verify: s.verifyRow})
	s.authz = newAuthorizer(cfg, opts.Now)
	s.rec = logAuditor{log: log}
	if !cfg.Audit.Disabled {
		if s.chain, s.auditStore, err = s.openAudit(ctx); err != nil {
			s.Close()
			return nil, err
		}
		s.rec = s.chain
		store.SetJournal(s.journal)
	}
	s.recoverUnary = recovery.UnaryServerInterceptor(s.recoveryOption())
	s.recoverStream = recovery.StreamServerInterceptor(s.recoveryOption())
	tp, stopTrace, err := openTracing(ctx, cfg.Tracing, cfg.Audit.Replica, opts.TracerProvider)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.stopTrace = stopTrace
	var traced []grpc.ServerOption
	if tp != nil {
		s.tracer = tp.Tracer("github.com/keygate/keygate/server")
		traced = append(traced, traceOption(tp))
	}
	s.handshakes = newHandshakeFailures(log, s.metrics)
	s.grpc = grpc.NewServer(append(traced,
		grpc.Creds(handshakeCreds{credentials.NewTLS(s.serverConfig()), s.handshakes}),
		grpc.ChainUnaryInterceptor(s.metrics.grpc.UnaryServerInterceptor(), s.unary),
		grpc.ChainStreamInterceptor(s.metrics.grpc.StreamServerInterceptor(), s.stream),
		grpc.MaxRecvMsgSize(threeds.MaxCRes+16<<10), // the largest field keygate accepts is a 2.3.1 CRes
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
	)...)
	pb.RegisterCryptoServiceServer(s.grpc, &cryptoService{s: s})
	pb.RegisterKeyAdminServiceServer(s.grpc, &adminService{s: s})
	pb.RegisterPolicyServiceServer(s.grpc, &policyService{s: s})
	pb.RegisterAuditServiceServer(s.grpc, &auditService{s: s})
	sessions, err := threeds.NewSQLStore(ctx, s.db)
	if err != nil {
		s.Close()
		return nil, err
	}
	trust, err := cfg.ThreeDS.SdkServer.trust()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("threeds.sdk_server: %w", err)
	}
	otps, err := threeds.NewSQLOTPStore(ctx, s.db)
	if err != nil {
		s.Close()
		return nil, err
	}
	meta, err := threeds.NewKeyMeta(ctx, s.db)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.threeds = &threeDSService{s: s, store: sessions, trust: trust, otp: otps, meta: meta, cache: threeds.NewOpenCache(0)}
	pb.RegisterThreeDSServiceServer(s.grpc, s.threeds)
	s.health = health.NewServer()
	s.ready = newReadiness(s.health, log, s.backends, opts.Now)
	s.admission = newAdmission(cfg.Limits)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	s.newHealthGRPC()
	if !cfg.DisableReflection {
		reflection.Register(s.grpc)
	}
	s.metrics.grpc.InitializeMetrics(s.grpc)
	s.metrics.backends(s.backends)
	return s, nil
}

// newAuthorizer is the policy stage as the config sets it up.
func newAuthorizer(cfg *Config, now func() time.Time) *policyAuthorizer {
	if now == nil {
		now = time.Now
	}
	types := map[string]string{}
	for _, bc := range cfg.Backends {
		types[bc.Name] = bc.Type
	}
	own := map[string]bool{cfg.Audit.SigningKey: true}
	for _, k := range cfg.OwnKeys {
		own[k] = true
	}
	return &policyAuthorizer{admins: cfg.Admins, auditors: cfg.Auditors, adopters: cfg.Adopters,
		own: own, backendTypes: types, now: now, sdkServerVerifiers: cfg.ThreeDS.SdkServer.Principals}
}

// Keyring is the server's key registry (used by the demo setup).
func (s *Server) Keyring() *keyring.Keyring { return s.keys }

// Serve answers on lis until Shutdown.
func (s *Server) Serve(lis net.Listener) error {
	if s.chain != nil {
		if err := s.chain.event(context.Background(), audit.KindServerStarted, "listening on "+lis.Addr().String()+"; "+fips.Current().String()); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		if err := s.recordConfig(context.Background(), "start", s.cfg, nil); err != nil {
			return fmt.Errorf("audit: the configuration: %w", err)
		}
	}
	go s.threeds.sweep(s.sweepCtx, time.Minute)
	if s.chain != nil {
		go s.chain.watch(s.sweepCtx, 10*time.Second, s.health, s.log)
	}
	if s.chain != nil && s.cfg.Reconcile.Every > 0 {
		go s.reconcileLoop(s.sweepCtx)
	}
	go s.lifecycleLoop(s.sweepCtx)
	go s.handshakes.loop(s.sweepCtx, s.cfg.Log.RepeatInterval, s.chain)
	go s.WatchFiles(s.sweepCtx, s.cfg.ReloadInterval)
	go s.ready.watch(s.sweepCtx, time.Second, s.chain)
	go s.watchClock(s.sweepCtx, time.Second)
	s.ready.start()
	s.log.Info("keygated serving", "addr", lis.Addr().String(), "backends", len(s.backends))
	if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Shutdown stops taking calls and waits for those in flight, until ctx is
// done; then it stops hard.
func (s *Server) Shutdown(ctx context.Context) {
	s.stopSweep()
	s.ready.drain()
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
	}
	if s.healthGRPC != nil {
		s.healthGRPC.Stop()
	}
}

// Close records the server's stop, seals the audit log with a final
// checkpoint, and releases the backends and the store.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	s.stopSweep()
	var errs []error
	if s.chain != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if s.handshakes != nil {
			errs = append(errs, s.handshakes.flush(ctx, s.chain))
		}
		errs = append(errs, s.chain.event(ctx, audit.KindServerStopped, ""), s.chain.log.Close(ctx))
		cancel()
	}
	if s.auditStore != nil {
		errs = append(errs, s.auditStore.Close())
	}
	if s.stopTrace != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, s.stopTrace(ctx))
		cancel()
	}
	for _, b := range s.backends {
		errs = append(errs, b.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}
