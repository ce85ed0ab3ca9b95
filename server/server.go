// Package server is keygated: the gRPC services over mutual TLS, the
// interceptor that turns each RPC into an identified, authorized and
// audited call, and the one mapping of keygate errors to gRPC codes.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/keys/keyring"
	keysql "github.com/keygate/keygate/keys/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/threeds"
)

// actions maps each audited RPC to its KMS (or keygate:) action name.
var actions = map[string]string{
	"/keygate.v1.CryptoService/Sign":                      "kms:Sign",
	"/keygate.v1.CryptoService/Verify":                    "kms:Verify",
	"/keygate.v1.CryptoService/GetPublicKey":              "kms:GetPublicKey",
	"/keygate.v1.CryptoService/Encrypt":                   "kms:Encrypt",
	"/keygate.v1.CryptoService/Decrypt":                   "kms:Decrypt",
	"/keygate.v1.CryptoService/GenerateDataKey":           "kms:GenerateDataKey",
	"/keygate.v1.CryptoService/GenerateMac":               "kms:GenerateMac",
	"/keygate.v1.CryptoService/VerifyMac":                 "kms:VerifyMac",
	"/keygate.v1.CryptoService/DeriveSharedSecret":        "kms:DeriveSharedSecret",
	"/keygate.v1.KeyAdminService/CreateKey":               "kms:CreateKey",
	"/keygate.v1.KeyAdminService/DescribeKey":             "kms:DescribeKey",
	"/keygate.v1.KeyAdminService/ListKeys":                "kms:ListKeys",
	"/keygate.v1.KeyAdminService/EnableKey":               "kms:EnableKey",
	"/keygate.v1.KeyAdminService/DisableKey":              "kms:DisableKey",
	"/keygate.v1.KeyAdminService/GetKeyPolicy":            "kms:GetKeyPolicy",
	"/keygate.v1.KeyAdminService/PutKeyPolicy":            "kms:PutKeyPolicy",
	"/keygate.v1.PolicyService/SimulatePolicy":            "kms:GetKeyPolicy",
	"/keygate.v1.PolicyService/DiffKeyPolicy":             "kms:GetKeyPolicy",
	"/keygate.v1.AuditService/ListEvents":                 "keygate:ReadAuditLog",
	"/keygate.v1.AuditService/TailEvents":                 "keygate:ReadAuditLog",
	"/keygate.v1.AuditService/VerifyLog":                  "keygate:ReadAuditLog",
	"/keygate.v1.AuditService/GetCheckpointKey":           "keygate:ReadAuditLog",
	"/keygate.v1.AuditService/ExportArchive":              "keygate:ReadAuditLog",
	"/keygate.v1.ThreeDSService/CreateAcsSession":         "keygate:CreateAcsSession",
	"/keygate.v1.ThreeDSService/DecryptChallengeRequest":  "keygate:DecryptChallengeRequest",
	"/keygate.v1.ThreeDSService/EncryptChallengeResponse": "keygate:EncryptChallengeResponse",
	"/keygate.v1.ThreeDSService/DecryptSdkEncData":        "keygate:DecryptSdkEncData",
	"/keygate.v1.KeyAdminService/ImportCertificate":       "keygate:ImportCertificate",
	"/keygate.v1.KeyAdminService/GetCertificate":          "kms:DescribeKey",
	"/keygate.v1.PolicyService/PushKeyPolicy":             "kms:PutKeyPolicy",
	"/keygate.v1.CryptoService/ReEncrypt":                 "kms:ReEncryptFrom", // and kms:ReEncryptTo on the destination
	// The version lifecycle (lifecycle.go).
	"/keygate.v1.KeyAdminService/CreateKeyVersion":           "keygate:CreateKeyVersion",
	"/keygate.v1.KeyAdminService/ActivateKeyVersion":         "keygate:ActivateKeyVersion",
	"/keygate.v1.KeyAdminService/RetireKeyVersion":           "keygate:RetireKeyVersion",
	"/keygate.v1.KeyAdminService/ScheduleKeyVersionDeletion": "kms:ScheduleKeyDeletion",
	"/keygate.v1.KeyAdminService/CancelKeyVersionDeletion":   "kms:CancelKeyDeletion",
	"/keygate.v1.KeyAdminService/DestroyKeyVersion":          "keygate:DestroyKeyVersion",
	"/keygate.v1.KeyAdminService/UpdateKeyRotation":          "kms:EnableKeyRotation",
	"/keygate.v1.KeyAdminService/CreateCertificateRequest":   "keygate:CreateCertificateRequest",
	"/keygate.v1.KeyAdminService/ListApprovals":              "keygate:ApproveOperation",
	"/keygate.v1.KeyAdminService/ApproveOperation":           "keygate:ApproveOperation",
	"/keygate.v1.KeyAdminService/DenyOperation":              "keygate:ApproveOperation",
}

// Server is a configured keygated.
type Server struct {
	cfg        *Config
	log        *slog.Logger
	db         *sqldb.DB
	backends   map[string]backends.Backend
	keys       *keyring.Keyring
	authz      Authorizer
	auditor    Auditor
	principals map[string]string
	actions    map[string]string
	chain      *chainAuditor // nil when the audit log is disabled
	auditStore *sqlstore.Store
	keyStore   *keysql.Store
	holder     string // this process in store leases
	threeds    *threeDSService
	stopSweep  context.CancelFunc
	health     *health.Server
	closeOnce  sync.Once
	closeErr   error
	grpc       *grpc.Server
}

// Options replace parts of the server, for tests and later stages.
type Options struct {
	Auditor    Auditor
	Authorizer Authorizer
	// Now is the key registry's clock (cryptoperiods, deletion waiting
	// periods); nil means time.Now. Tests pass a clock they move.
	Now func() time.Time
}

// New opens the store and the backends and builds the gRPC server. The
// caller must Close it.
func New(ctx context.Context, cfg *Config, log *slog.Logger, opts Options) (*Server, error) {
	s := &Server{cfg: cfg, log: log, backends: map[string]backends.Backend{},
		principals: map[string]string{}, actions: actions}
	for _, m := range cfg.Principals {
		s.principals[m.Identity] = m.ARN
	}
	tlsCfg, err := serverTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
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
	}
	s.keys = keyring.New(store, s.backends, keyring.Options{ARN: cfg.KeyARN, Refresh: cfg.KeyRefresh, Now: opts.Now})
	s.authz, s.auditor = opts.Authorizer, opts.Auditor
	if s.authz == nil {
		types := map[string]string{}
		for _, bc := range cfg.Backends {
			types[bc.Name] = bc.Type
		}
		s.authz = &policyAuthorizer{admins: cfg.Admins, auditors: cfg.Auditors, backendTypes: types, now: time.Now}
	}
	if s.auditor == nil && !cfg.Audit.Disabled {
		if s.chain, s.auditStore, err = s.openAudit(ctx); err != nil {
			s.Close()
			return nil, err
		}
		s.auditor = s.chain
		store.SetJournal(s.journal)
	}
	if s.auditor == nil {
		s.auditor = logAuditor{log: log}
	}
	s.grpc = grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsCfg)),
		grpc.ChainUnaryInterceptor(s.unary),
		grpc.ChainStreamInterceptor(s.stream),
		grpc.MaxRecvMsgSize(320<<10), // above the largest field keygate accepts (a 256 KiB JWE)
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
	)
	pb.RegisterCryptoServiceServer(s.grpc, &cryptoService{s: s})
	pb.RegisterKeyAdminServiceServer(s.grpc, &adminService{s: s})
	pb.RegisterPolicyServiceServer(s.grpc, &policyService{s: s})
	pb.RegisterAuditServiceServer(s.grpc, &auditService{s: s})
	sessions, err := threeds.NewSQLStore(ctx, s.db)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.threeds = &threeDSService{s: s, store: sessions}
	pb.RegisterThreeDSServiceServer(s.grpc, s.threeds)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	return s, nil
}

// Keyring is the server's key registry (used by the demo setup).
func (s *Server) Keyring() *keyring.Keyring { return s.keys }

// Serve answers on lis until Shutdown.
func (s *Server) Serve(lis net.Listener) error {
	if s.chain != nil {
		if err := s.chain.event(context.Background(), audit.KindServerStarted, "listening on "+lis.Addr().String()); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	sweepCtx, stop := context.WithCancel(context.Background())
	s.stopSweep = stop
	go s.threeds.sweep(sweepCtx, time.Minute)
	if s.chain != nil {
		go s.chain.watch(sweepCtx, 10*time.Second, s.health, s.log)
	}
	go s.lifecycleLoop(sweepCtx)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.log.Info("keygated serving", "addr", lis.Addr().String(), "backends", len(s.backends))
	if err := s.grpc.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// Shutdown stops taking calls and waits for those in flight, until ctx is
// done; then it stops hard.
func (s *Server) Shutdown(ctx context.Context) {
	if s.stopSweep != nil {
		s.stopSweep()
	}
	s.health.Shutdown()
	done := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.grpc.Stop()
	}
}

// Close records the server's stop, seals the audit log with a final
// checkpoint, and releases the backends and the store.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Server) close() error {
	var errs []error
	if s.chain != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, s.chain.event(ctx, audit.KindServerStopped, ""), s.chain.log.Close(ctx))
		cancel()
	}
	if s.auditStore != nil {
		errs = append(errs, s.auditStore.Close())
	}
	for _, b := range s.backends {
		errs = append(errs, b.Close())
	}
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}
