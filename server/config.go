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

	"github.com/keygate/keygate/internal/sqldb"
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
	// Auditors may read and verify the audit log (keygate:ReadAuditLog),
	// as admins may.
	Auditors []string      `yaml:"auditors"`
	Audit    AuditConfig   `yaml:"audit"`
	ThreeDS  ThreeDSConfig `yaml:"threeds"`

	Store          StoreConfig     `yaml:"store"`
	Backends       []BackendConfig `yaml:"backends"`
	DefaultBackend string          `yaml:"default_backend"`
	// KeyRefresh is how long a replica trusts its cached copy of a key.
	KeyRefresh time.Duration `yaml:"key_refresh"`
	Log        LogConfig     `yaml:"log"`
	// MaxConcurrentStreams bounds in-flight calls per connection.
	MaxConcurrentStreams uint32 `yaml:"max_concurrent_streams"`
}

// TLSConfig names the server's certificate and the CA that client
// certificates must chain to.
type TLSConfig struct {
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
	ClientCA string `yaml:"client_ca"`
}

// PrincipalMapping maps one certificate identity to a principal ARN.
type PrincipalMapping struct {
	Identity string `yaml:"identity"`
	ARN      string `yaml:"arn"`
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
	// SigningKey names the ECC_NIST_P256 key that signs checkpoints; it is
	// created in the default backend on first start (default audit-checkpoint).
	SigningKey string `yaml:"signing_key"`
	// ContextSecretFile holds at least 32 random bytes keying the hashes of
	// encryption context values.
	ContextSecretFile string `yaml:"context_secret_file"`
	// Replica names this keygated in its events (default: the host name).
	Replica            string        `yaml:"replica"`
	CheckpointEvery    int           `yaml:"checkpoint_every"`
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
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
	if c.Audit.SigningKey == "" {
		c.Audit.SigningKey = "audit-checkpoint"
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
}

func (c *Config) problems() []string {
	var p []string
	add := func(f string, a ...any) { p = append(p, fmt.Sprintf(f, a...)) }
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
	if !c.Audit.Disabled && c.Audit.ContextSecretFile == "" {
		add("audit.context_secret_file is required (or set audit.disabled, never in production)")
	}
	if c.Audit.CheckpointEvery < 0 || c.Audit.CheckpointInterval < 0 {
		add("audit.checkpoint_every and audit.checkpoint_interval must not be negative")
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
	if c.ThreeDS.SessionTTL < 0 || c.ThreeDS.SessionTTL > time.Hour {
		add("threeds.session_ttl must be between 0 and 1h")
	}
	c.ThreeDS.SdkServer.validate(add)
	switch c.Log.Level {
	case "", "debug", "info", "warn", "error":
	default:
		add("log.level %q: want debug, info, warn or error", c.Log.Level)
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
