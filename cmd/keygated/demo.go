package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/internal/devca"
	"github.com/keygate/keygate/server"
)

// The demo's identities: each gets a client certificate with the URI SAN
// spiffe://keygate.demo/NAME, mapped to arn:aws:iam::111122223333:role/NAME.
// "auditor" is the config's auditor: it reads the inventory, the policies
// and the audit log and changes nothing; the admins do not read the log.
var demoIdentities = []string{"admin", "acs", "3ds-server", "ds", "admin2", "auditor"}

const (
	demoAccount = "111122223333"
	demoToken   = "keygate-demo"
	demoListen  = "127.0.0.1:7443"
	demoMetrics = "127.0.0.1:9464"
)

// demo sets up $KEYGATE_HOME once (SoftHSM2 token, local CA and
// certificates, config, SQLite store) and serves it; a second run reuses
// what is there. The demo keys are created through the admin API, so they
// are audited like any other key.
func demo(args []string) error {
	fs := flag.NewFlagSet("keygated demo", flag.ContinueOnError)
	home := fs.String("home", envOr("KEYGATE_HOME", ".keygate"), "demo directory")
	listen := fs.String("listen", demoListen, "gRPC address")
	metricsListen := fs.String("metrics-listen", demoMetrics, "Prometheus /metrics address (metrics.listen)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := filepath.Abs(*home)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	module, err := setupToken(dir)
	if err != nil {
		return fmt.Errorf("softhsm token: %w", err)
	}
	if err := setupTLS(filepath.Join(dir, "tls")); err != nil {
		return fmt.Errorf("demo CA: %w", err)
	}
	if err := writeOnce(filepath.Join(dir, "audit-secret"), []byte(randomHex(32))); err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "keygated.yaml")
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(cfgPath, []byte(demoConfig(dir, module, *listen, *metricsListen)), 0o600); err != nil {
			return err
		}
	}
	cfg, err := server.LoadConfig(cfgPath)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "metrics-listen" { // an explicit flag wins over an earlier run's config
			cfg.Metrics.Listen = *metricsListen
		}
	})
	if err := addKMSBackend(cfg); err != nil {
		return err
	}
	return serve(cfg, cfgPath, func(ctx context.Context) error {
		if err := createDemoKeys(ctx, dir, cfg.Listen); err != nil {
			return fmt.Errorf("demo keys: %w", err)
		}
		printExports(dir, cfg.Listen)
		return nil
	})
}

// setupToken initialises the demo's SoftHSM2 token in dir/softhsm once.
// SOFTHSM2_CONF is set for this process so the module finds it.
func setupToken(dir string) (module string, err error) {
	if module, err = softhsmModule(); err != nil {
		return "", err
	}
	hsm := filepath.Join(dir, "softhsm")
	conf := filepath.Join(hsm, "softhsm2.conf")
	if err := os.MkdirAll(filepath.Join(hsm, "tokens"), 0o700); err != nil {
		return "", err
	}
	if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
		body := "directories.tokendir = " + filepath.Join(hsm, "tokens") + "\nobjectstore.backend = file\nlog.level = ERROR\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			return "", err
		}
	}
	os.Setenv("SOFTHSM2_CONF", conf)
	pinFile := filepath.Join(dir, "pin")
	if _, err := os.Stat(pinFile); err == nil {
		return module, nil // initialised by an earlier run
	}
	pin, soPIN := randomHex(8), randomHex(8)
	if err := initDemoToken(module, demoToken, pin, soPIN); err != nil {
		return "", fmt.Errorf("init token %s: %w", demoToken, err)
	}
	return module, os.WriteFile(pinFile, []byte(pin), 0o600)
}

func softhsmModule() (string, error) {
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so", "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("libsofthsm2.so not found: install SoftHSM2 (apt-get install -y softhsm2)")
}

// setupTLS writes the demo CA and the server and client certificates once.
func setupTLS(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil {
		return nil
	}
	ca, err := devca.New("keygate demo CA")
	if err != nil {
		return err
	}
	if err := devca.WriteFiles(dir, "ca", ca.Cert, ca.Key); err != nil {
		return err
	}
	srv, err := ca.Server("keygated", "127.0.0.1", "localhost", "::1")
	if err != nil {
		return err
	}
	if err := devca.WriteFiles(dir, "server", srv.Cert, srv.Key); err != nil {
		return err
	}
	for _, id := range demoIdentities {
		c, err := ca.Client(id, "spiffe://keygate.demo/"+id)
		if err != nil {
			return err
		}
		if err := devca.WriteFiles(dir, id, c.Cert, c.Key); err != nil {
			return err
		}
	}
	return nil
}

func demoConfig(dir, module, listen, metrics string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# keygated demo configuration, written by 'keygated demo'.
listen: %q
account: %q
region: eu-west-1
tls:
  cert: %q
  key: %q
  client_ca: %q
principals:
`, listen, demoAccount, filepath.Join(dir, "tls/server.pem"), filepath.Join(dir, "tls/server-key.pem"), filepath.Join(dir, "tls/ca.pem"))
	for _, id := range demoIdentities {
		fmt.Fprintf(&b, "  - identity: spiffe://keygate.demo/%s\n    arn: arn:aws:iam::%s:role/%s\n", id, demoAccount, id)
	}
	fmt.Fprintf(&b, `admins:   # each admin is one person with a certificate of their own, never a shared admin ARN
  - arn:aws:iam::%s:role/admin
  - arn:aws:iam::%[1]s:role/admin2
auditors:   # read the inventory, every policy and the audit log; change nothing (admins do not read the log)
  - arn:aws:iam::%[1]s:role/auditor
lifecycle:
  # activation and destruction need two admins: admin asks, admin2 approves
  dual_control: [ActivateKeyVersion, ScheduleKeyVersionDeletion]
  cryptoperiods_days: {SIGN_VERIFY: 730, KEY_AGREEMENT: 730, ENCRYPT_DECRYPT: 365, GENERATE_VERIFY_MAC: 365}
audit:
  signing_key: audit-checkpoint
  context_secret_file: %q
  checkpoint_every: 1000
  checkpoint_interval: 1m
  witness:
    file: %q
threeds:
  accept_dir_epk: true   # Stripe Android's EC sdkEncData form (docs/3DS-SDKS.md)
store:
  driver: sqlite
  dsn: %q
backends:
  - name: hsm
    type: pkcs11
    config:
      module: %q
      token_label: %q
      pin_file: %q
      max_sessions: 32
log:
  level: info
  format: text
metrics:
  listen: %q
`, demoAccount, filepath.Join(dir, "audit-secret"), filepath.Join(dir, "audit-witness.jsonl"), filepath.Join(dir, "keygate.db"), module, demoToken, filepath.Join(dir, "pin"), metrics)
	return b.String()
}

func printExports(dir, listen string) {
	tls := filepath.Join(dir, "tls")
	fmt.Printf(`
keygated is running on %s with the demo keys. In another shell:

export KEYGATE_ADDR=%s
export KEYGATE_CA=%s
export KEYGATE_CERT=%s
export KEYGATE_KEY=%s

To act as a service instead, use acs.pem, 3ds-server.pem or ds.pem (and its -key.pem) from %s.
The second admin, who approves what dual control holds back, is admin2.pem.
To keep an admin's key on a PKCS#11 token instead of a file: README, "An admin's key on a token".
The auditor, who reads the audit log, the inventory and the policies, is auditor.pem.

`, listen, listen, filepath.Join(tls, "ca.pem"), filepath.Join(tls, "admin.pem"), filepath.Join(tls, "admin-key.pem"), tls)
}

// addKMSBackend adds a backend named "kms" when KEYGATE_KMS_ENDPOINT is
// set, so a KMS-compatible endpoint can be tried by hand; credentials and
// region come from the usual AWS_* variables.
func addKMSBackend(cfg *server.Config) error {
	endpoint := os.Getenv("KEYGATE_KMS_ENDPOINT")
	if endpoint == "" {
		return nil
	}
	region := envOr("AWS_REGION", os.Getenv("AWS_DEFAULT_REGION"))
	if region == "" {
		return errors.New("KEYGATE_KMS_ENDPOINT is set: set AWS_REGION too")
	}
	var node yaml.Node
	if err := node.Encode(map[string]string{"region": region, "endpoint": endpoint}); err != nil {
		return err
	}
	for _, b := range cfg.Backends {
		if b.Name == "kms" {
			return nil // the config file already has one
		}
	}
	cfg.Backends = append(cfg.Backends, server.BackendConfig{Name: "kms", Type: "kms", Config: node})
	return nil
}

// writeOnce writes a secret file unless it exists.
func writeOnce(path string, b []byte) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	return os.WriteFile(path, b, 0o600)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
