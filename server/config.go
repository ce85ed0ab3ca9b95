package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/witness"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/keys"
)

// Config is keygated's configuration file. Decoding is strict: an unknown
// key is an error, and every problem is reported at once.
type Config struct {
	// Listen is the gRPC address, e.g. 127.0.0.1:7443.
	Listen string `yaml:"listen"`
	// Account and Region make key ARNs (arn:aws:kms:REGION:ACCOUNT:key/NAME)
	// and give kms:CallerAccount its meaning.
	Account string `yaml:"account"`
	Region  string `yaml:"region"`

	TLS TLSConfig `yaml:"tls"`
	// Principals map certificate identities (URI SAN, else subject CN) to
	// principal ARNs. An identity not listed here is refused.
	Principals []PrincipalMapping `yaml:"principals"`
	// Admins are the principal ARNs allowed the administrative API.
	Admins []string `yaml:"admins"`
	// Auditors read and verify the audit log (keygate:ReadAuditLog), which
	// admins may not unless listed here too, and read every key's
	// metadata and policy; they change nothing (duties apart).
	Auditors []string    `yaml:"auditors"`
	Audit    AuditConfig `yaml:"audit"`
	// Reconcile runs CloudTrail reconciliation on a schedule (reconcile.go).
	Reconcile ReconcileConfig `yaml:"reconcile"`
	ThreeDS   ThreeDSConfig   `yaml:"threeds"`

	Store          StoreConfig     `yaml:"store"`
	Backends       []BackendConfig `yaml:"backends"`
	DefaultBackend string          `yaml:"default_backend"`
	// KeyRefresh is how long a replica trusts its cached copy of a key.
	KeyRefresh time.Duration `yaml:"key_refresh"`
	// KeyMaxStale is how long a replica keeps serving its cached copy of a
	// key while the store cannot be read; then the key fails closed with
	// Unavailable (default 4 × key_refresh).
	KeyMaxStale time.Duration `yaml:"key_max_stale"`
	Log         LogConfig     `yaml:"log"`
	// MaxConcurrentStreams bounds in-flight calls per connection.
	MaxConcurrentStreams uint32 `yaml:"max_concurrent_streams"`
	// Limits bound the calls in flight overall and per principal (admission.go).
	Limits LimitsConfig `yaml:"limits"`

	// Adopters may create a key over an existing backend key
	// (keygate:AdoptKey, CreateKey with backend_key_id). Nobody by default:
	// adopting takes the key's uses over, so it is granted by name.
	Adopters []string `yaml:"adopters"`
	// OwnKeys are keys only keygated itself uses; no policy can grant a
	// principal their use or change them. audit.signing_key always is one.
	OwnKeys []string `yaml:"own_keys"`
	// DisableReflection turns gRPC server reflection off (production).
	// Reflection and health answer mapped principals only either way.
	DisableReflection bool `yaml:"disable_reflection"`
	// RequireFIPS refuses to start unless FIPS 140-3 mode is on for
	// keygated's own cryptography (a GOFIPS140 build, or GODEBUG
	// fips140=on); see fips.go.
	RequireFIPS bool `yaml:"require_fips"`
	// Lifecycle holds the key lifecycle's defaults (lifecycle_config.go).
	Lifecycle LifecycleConfig `yaml:"lifecycle"`
	// PprofListen, when set, serves net/http/pprof on this loopback
	// address for profiling a loaded server (pprof.go). Off by default.
	PprofListen string `yaml:"pprof_listen"`
	// Metrics serves Prometheus metrics on a listener of its own (metrics.go).
	Metrics MetricsConfig `yaml:"metrics"`
	// Tracing exports OpenTelemetry spans over OTLP (tracing.go).
	Tracing TracingConfig `yaml:"tracing"`
	// ReloadInterval is how often the TLS files and the config file are
	// checked for changes to reload (default 5s; SIGHUP reloads at once).
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// ShutdownGrace is how long a stopping keygated lets calls in flight
	// finish before it closes their connections (default 10s).
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
	// Health serves grpc.health.v1 in plaintext for a kubelet (healthport.go).
	Health HealthConfig `yaml:"health"`
}

// TLSConfig names the server's certificate and the CA that client
// certificates must chain to.
type TLSConfig struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca"`
	// CRLFile, if set, is the client CA's certificate revocation list (PEM
	// or DER), checked at every handshake and reloaded when it changes.
	CRLFile string `yaml:"crl_file"`
	// Roles are per-role requirements on client certificates (clientroles.go).
	Roles RoleRules `yaml:"roles"`
}

// PrincipalMapping maps one certificate identity to a principal ARN.
type PrincipalMapping struct {
	Identity string `yaml:"identity"`
	ARN      string `yaml:"arn"`
	// Source says where the identity is in a certificate: "uri" (its one
	// URI SAN, compared byte for byte) or "cn" (its subject CN, for a
	// certificate without a URI SAN). Empty means "uri" for an identity
	// with "://", else "cn".
	Source string `yaml:"source"`
}

// source is the mapping's identity namespace, explicit or inferred.
func (m PrincipalMapping) source() string {
	switch {
	case m.Source != "":
		return m.Source
	case strings.Contains(m.Identity, "://"):
		return IdentityURI
	}
	return IdentityCN
}

// StoreConfig selects the database of the key registry and the audit log.
type StoreConfig struct {
	Driver string `yaml:"driver"` // sqlite or postgres
	DSN    string `yaml:"dsn"`    // file path, or a PostgreSQL connection string
	// DSNEnv names an environment variable holding the DSN, so a password
	// need not sit in the file.
	DSNEnv string `yaml:"dsn_env"`
}

// BackendConfig configures one backend; Config is decoded by the backend.
type BackendConfig struct {
	Name   string    `yaml:"name"`
	Type   string    `yaml:"type"`
	Config yaml.Node `yaml:"config"`
}

// AuditConfig configures the tamper-evident audit log, kept in the store.
type AuditConfig struct {
	// Disabled leaves calls in the structured log only, with no
	// tamper-evident record: for measuring the log's cost, never for a
	// PCI deployment.
	Disabled bool `yaml:"disabled"`
	// SigningKey names the key that signs checkpoints; it is created on
	// first start (default audit-checkpoint).
	SigningKey string `yaml:"signing_key"`
	// SigningKeyBackend is the backend it is created in (default:
	// default_backend), and SigningKeySpec its spec: ECC_NIST_P256
	// (default) or, for a token without EC, RSA_2048, RSA_3072 or RSA_4096.
	SigningKeyBackend string    `yaml:"signing_key_backend"`
	SigningKeySpec    keys.Spec `yaml:"signing_key_spec"`
	// ContextSecretFile holds at least 32 random bytes keying the hashes of
	// encryption context values.
	ContextSecretFile string `yaml:"context_secret_file"`
	// Replica names this keygated in its events (default: the host name).
	Replica            string        `yaml:"replica"`
	CheckpointEvery    int           `yaml:"checkpoint_every"`
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
	// CheckpointSlack: `audit verify` flags a newest checkpoint older than
	// checkpoint_interval plus this (default 1m).
	CheckpointSlack time.Duration `yaml:"checkpoint_slack"`
	// Witness publishes every checkpoint outside the database.
	Witness WitnessConfig `yaml:"witness"`
	// MaxPending bounds the events waiting for a commit (default 4096):
	// beyond it calls are refused Unavailable at once while the store is slow.
	MaxPending int `yaml:"max_pending"`
}

// WitnessConfig names where checkpoints are published besides the store.
// keygated refuses to start on a store older than the file or S3 witness.
type WitnessConfig struct {
	File string            `yaml:"file"` // an append-only file on other storage than the database
	S3   *witness.S3Config `yaml:"s3"`   // a bucket with Object Lock enabled
	Log  bool              `yaml:"log"`  // an "audit checkpoint" line in keygated's log, for the SIEM
}

// ThreeDSConfig configures the 3DS challenge sessions.
type ThreeDSConfig struct {
	// SessionKey names the SYMMETRIC_DEFAULT key that seals sessions
	// (default 3ds-sessions). Its policy says who may run challenges.
	SessionKey string `yaml:"session_key"`
	// SessionTTL is how long a session lives unless the ACS asks for less
	// (default 10m); a request for more is refused.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// AcceptDirEPK accepts sdkEncData in Stripe Android's EC form,
	// {"alg":"dir","enc":…,"epk":…}, beside the spec's ECDH-ES.
	AcceptDirEPK bool `yaml:"accept_dir_epk"`
	// SdkServer is the DS's trust for Split-SDK servers' signed content.
	SdkServer SdkServerConfig `yaml:"sdk_server"`
}

// LogConfig sets up log/slog.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // json or text
	// RepeatInterval: a warning or error repeating with one cause is
	// written once, then as one line with its count per interval (default 10s).
	RepeatInterval time.Duration `yaml:"repeat_interval"`
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	arnRE     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:(root|(role|user)/[A-Za-z0-9+=,.@_/-]+)$`)
)

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(raw)
}

// ParseConfig decodes and validates a config document.
func ParseConfig(raw []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("config: %s", strings.Join(te.Errors, "; "))
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	c.defaults()
	if probs := c.problems(); len(probs) > 0 {
		return nil, fmt.Errorf("config: %s", strings.Join(probs, "; "))
	}
	return &c, nil
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:7443"
	}
	if c.Store.Driver == "" {
		c.Store.Driver = sqldb.SQLite
	}
	if c.DefaultBackend == "" && len(c.Backends) > 0 {
		c.DefaultBackend = c.Backends[0].Name
	}
	if c.KeyRefresh == 0 {
		c.KeyRefresh = 5 * time.Second
	}
	if c.KeyMaxStale == 0 {
		c.KeyMaxStale = 4 * c.KeyRefresh
	}
	if c.Audit.CheckpointSlack == 0 {
		c.Audit.CheckpointSlack = time.Minute
	}
	if c.Audit.SigningKey == "" {
		c.Audit.SigningKey = "audit-checkpoint"
	}
	if c.Audit.SigningKeyBackend == "" {
		c.Audit.SigningKeyBackend = c.DefaultBackend
	}
	if c.Audit.SigningKeySpec == "" {
		c.Audit.SigningKeySpec = keys.ECCNISTP256
	}
	if c.ThreeDS.SessionKey == "" {
		c.ThreeDS.SessionKey = "3ds-sessions"
	}
	if c.ThreeDS.SessionTTL == 0 {
		c.ThreeDS.SessionTTL = 10 * time.Minute
	}
	if c.ThreeDS.SdkServer.MaxSkew == 0 {
		c.ThreeDS.SdkServer.MaxSkew = 5 * time.Minute
	}
	if c.Audit.Replica == "" {
		c.Audit.Replica, _ = os.Hostname()
	}
	if c.MaxConcurrentStreams == 0 {
		c.MaxConcurrentStreams = 256
	}
	c.Lifecycle.defaults()
	c.opsDefaults()
	c.Limits.defaults()
}

func (c *Config) problems() []string {
	var p []string
	add := func(f string, a ...any) { p = append(p, fmt.Sprintf(f, a...)) }
	p = append(p, c.Reconcile.problems()...)
	p = append(p, c.TLS.Roles.problems()...)
	if c.PprofListen != "" {
		if err := loopbackAddr(c.PprofListen); err != nil {
			add("pprof_listen %q: %v", c.PprofListen, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("listen %q: %v", c.Listen, err)
	}
	if !accountRE.MatchString(c.Account) {
		add("account must be a 12-digit AWS account id")
	}
	if !regionRE.MatchString(c.Region) {
		add("region %q is not an AWS region name", c.Region)
	}
	for _, f := range [][2]string{{"tls.cert", c.TLS.Cert}, {"tls.key", c.TLS.Key}, {"tls.client_ca", c.TLS.ClientCA}} {
		if f[1] == "" {
			add("%s is required", f[0])
		}
	}
	seen := map[string]bool{}
	for i, m := range c.Principals {
		if m.Identity == "" {
			add("principals[%d].identity is required", i)
		} else if seen[m.Identity] {
			add("principals[%d]: identity %q is mapped twice", i, m.Identity)
		}
		seen[m.Identity] = true
		switch src := m.source(); {
		case src != IdentityURI && src != IdentityCN:
			add("principals[%d].source %q: want uri or cn", i, m.Source)
		case src == IdentityCN && strings.Contains(m.Identity, ":"):
			// A CN that reads like a URI would let a certificate's CN pass
			// for a URI SAN in a reader's eyes: keep the namespaces apart.
			add("principals[%d]: a cn identity must not look like a URI (%q)", i, m.Identity)
		case src == IdentityURI && !strings.Contains(m.Identity, ":"):
			add("principals[%d]: a uri identity must be an absolute URI (%q)", i, m.Identity)
		}
		if !arnRE.MatchString(m.ARN) {
			add("principals[%d].arn %q is not an IAM principal ARN", i, m.ARN)
		}
	}
	if len(c.Admins) == 0 {
		add("admins: name at least one admin principal ARN")
	}
	for i, a := range c.Admins {
		if !arnRE.MatchString(a) {
			add("admins[%d] %q is not an IAM principal ARN", i, a)
		}
	}
	for i, a := range c.Auditors {
		if !arnRE.MatchString(a) {
			add("auditors[%d] %q is not an IAM principal ARN", i, a)
		}
	}
	for i, a := range c.Adopters {
		if !arnRE.MatchString(a) {
			add("adopters[%d] %q is not an IAM principal ARN", i, a)
		}
	}
	for i, k := range c.OwnKeys {
		if !keys.ValidName(k) {
			add("own_keys[%d] %q is not a key name", i, k)
		}
	}
	if !c.Audit.Disabled && c.Audit.ContextSecretFile == "" {
		add("audit.context_secret_file is required (or set audit.disabled, never in production)")
	}
	if c.KeyMaxStale < c.KeyRefresh {
		add("key_max_stale (%s) must be at least key_refresh (%s)", c.KeyMaxStale, c.KeyRefresh)
	}
	if c.Audit.CheckpointEvery < 0 || c.Audit.CheckpointInterval < 0 || c.Audit.CheckpointSlack < 0 || c.Audit.MaxPending < 0 {
		add("audit.checkpoint_every, audit.checkpoint_interval, audit.checkpoint_slack and audit.max_pending must not be negative")
	}
	if w := c.Audit.Witness.S3; w != nil {
		if w.Bucket == "" {
			add("audit.witness.s3.bucket is required")
		}
		if w.Mode != "" && w.Mode != "COMPLIANCE" && w.Mode != "GOVERNANCE" {
			add("audit.witness.s3.mode %q: want COMPLIANCE or GOVERNANCE", w.Mode)
		}
		if w.RetainDays < 0 {
			add("audit.witness.s3.retain_days must not be negative")
		}
	}
	switch c.Store.Driver {
	case sqldb.SQLite, sqldb.Postgres:
	default:
		add("store.driver %q: want sqlite or postgres", c.Store.Driver)
	}
	if (c.Store.DSN == "") == (c.Store.DSNEnv == "") {
		add("store: set exactly one of dsn and dsn_env")
	}
	names := map[string]bool{}
	for i, b := range c.Backends {
		if b.Name == "" {
			add("backends[%d].name is required", i)
		} else if names[b.Name] {
			add("backends[%d]: name %q is used twice", i, b.Name)
		}
		names[b.Name] = true
		if b.Type == "" {
			add("backends[%d].type is required", i)
		}
	}
	if len(c.Backends) == 0 {
		add("backends: configure at least one")
	} else if !names[c.DefaultBackend] {
		add("default_backend %q is not a configured backend", c.DefaultBackend)
	}
	if _, ok := audit.CheckpointSpecs[c.Audit.SigningKeySpec]; !ok {
		add("audit.signing_key_spec %q: want ECC_NIST_P256, RSA_2048, RSA_3072 or RSA_4096", c.Audit.SigningKeySpec)
	}
	if len(c.Backends) > 0 && !names[c.Audit.SigningKeyBackend] {
		add("audit.signing_key_backend %q is not a configured backend", c.Audit.SigningKeyBackend)
	}
	if c.ThreeDS.SessionTTL < 0 || c.ThreeDS.SessionTTL > time.Hour {
		add("threeds.session_ttl must be between 0 and 1h")
	}
	p = append(p, c.Lifecycle.problems()...)
	c.ThreeDS.SdkServer.validate(add)
	p = append(p, c.opsProblems()...)
	p = append(p, c.Limits.problems()...)
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		add("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	if c.Log.RepeatInterval < 0 {
		add("log.repeat_interval must not be negative")
	}
	switch c.Log.Format {
	case "", "json", "text":
	default:
		add("log.format %q: want json or text", c.Log.Format)
	}
	return p
}

// StoreDSN is the store's DSN, from the file or the environment.
func (c *Config) StoreDSN() string {
	if c.Store.DSNEnv != "" {
		return os.Getenv(c.Store.DSNEnv)
	}
	return c.Store.DSN
}

// KeyARN is the ARN of a logical key.
func (c *Config) KeyARN(name string) string {
	return "arn:aws:kms:" + c.Region + ":" + c.Account + ":key/" + name
}
