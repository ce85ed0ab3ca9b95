package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/audit"
)

// The configuration is audited (issue 16, finding 3): at every start and
// every reload keygated records a config.loaded event with the effective
// configuration's digest, the principal mapping and the admin, auditor
// and adopter sets, and what changed since this replica's previous
// config.loaded event. Editing `admins` and restarting is then in the
// chain, not only in the file.

// configRecord is a config.loaded event's Detail, as JSON.
type configRecord struct {
	Reason string `json:"reason"` // start or reload
	// Config is the SHA-256 of the effective configuration's canonical
	// form (canonicalConfig): secrets left out, the TLS CA, certificate and
	// revocation list files by their contents' digests.
	Config     string   `json:"config"`
	Principals []string `json:"principals"` // "ARN <- source:identity", sorted
	Admins     []string `json:"admins"`
	Auditors   []string `json:"auditors"`
	Adopters   []string `json:"adopters"`
	// Truncated: the sets were too large for one event and are left out
	// (their changes still name what was added and removed).
	Truncated bool `json:"truncated,omitempty"`
	// Previous is this replica's previous config.loaded event, and
	// Changes what differs from it ("added admin ARN"...).
	Previous *configPrevious `json:"previous,omitempty"`
	Changes  []string        `json:"changes,omitempty"`
	// RestartNeeded names the sets the file changes that a reload does not
	// apply (only principals and TLS files reload).
	RestartNeeded []string `json:"restart_needed,omitempty"`
}

type configPrevious struct {
	Seq    uint64 `json:"seq"`
	Config string `json:"config"`
}

// maxConfigDetail keeps the event well under audit.MaxEventSize.
const maxConfigDetail = 48 << 10

// recordConfig records cfg, the configuration in force, as a config.loaded
// event; file, when not nil, is the file a reload read (its admins and
// auditors take effect only at a restart).
func (s *Server) recordConfig(ctx context.Context, reason string, cfg, file *Config) error {
	if s.chain == nil {
		return nil
	}
	digest, err := configDigest(cfg)
	if err != nil {
		return err
	}
	r := configRecord{Reason: reason, Config: digest, Principals: principalSet(cfg), Admins: sorted(cfg.Admins),
		Auditors: sorted(cfg.Auditors), Adopters: sorted(cfg.Adopters)}
	prev, seq, err := s.previousConfig(ctx)
	if err != nil {
		return err
	}
	if prev != nil {
		r.Previous = &configPrevious{Seq: seq, Config: prev.Config}
		r.Changes = configChanges(prev, &r)
	}
	if file != nil {
		for name, sets := range map[string][2][]string{"admins": {cfg.Admins, file.Admins}, "auditors": {cfg.Auditors, file.Auditors},
			"adopters": {cfg.Adopters, file.Adopters}} {
			if !slices.Equal(sorted(sets[0]), sorted(sets[1])) {
				r.RestartNeeded = append(r.RestartNeeded, name)
			}
		}
		slices.Sort(r.RestartNeeded)
	}
	detail, err := marshalPlain(r)
	if err != nil {
		return err
	}
	if len(detail) > maxConfigDetail {
		r.Principals, r.Admins, r.Auditors, r.Adopters, r.Truncated = nil, nil, nil, nil, true
		if len(r.Changes) > 100 {
			r.Changes = append(r.Changes[:100], fmt.Sprintf("and %d more changes", len(r.Changes)-100))
		}
		if detail, err = marshalPlain(r); err != nil {
			return err
		}
	}
	return s.chain.log.Record(ctx, &audit.Event{Kind: audit.KindConfigLoaded, Replica: s.chain.replica, Principal: "keygated",
		Action: "keygate:LoadConfig", Result: audit.ResultOK, Detail: string(detail)})
}

// marshalPlain is json.Marshal without HTML escaping: the detail is read
// by people ("ARN <- uri:…"), never put in a page unescaped.
func marshalPlain(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// previousConfig is this replica's newest config.loaded record, or nil.
// Config events are rare, so walking them newest first is cheap; other
// replicas' (with their own files) are skipped.
func (s *Server) previousConfig(ctx context.Context) (*configRecord, uint64, error) {
	q := audit.Query{Kind: audit.KindConfigLoaded, Desc: true, Limit: 100}
	for {
		recs, err := s.auditStore.Records(ctx, q)
		if err != nil {
			return nil, 0, fmt.Errorf("audit: the previous configuration: %w", err)
		}
		for _, rec := range recs {
			e, err := audit.Decode(rec.Body)
			if err != nil {
				return nil, 0, fmt.Errorf("audit event %d: %w", rec.Seq, err)
			}
			var r configRecord
			if e.Replica == s.chain.replica && json.Unmarshal([]byte(e.Detail), &r) == nil {
				return &r, rec.Seq, nil
			}
		}
		if len(recs) < q.Limit {
			return nil, 0, nil
		}
		q.AfterSeq = recs[len(recs)-1].Seq
	}
}

// configChanges lists what differs between two records.
func configChanges(prev, next *configRecord) []string {
	var out []string
	if prev.Config != next.Config {
		out = append(out, "config "+prev.Config+" -> "+next.Config)
	}
	if prev.Truncated || next.Truncated {
		return out
	}
	for _, set := range []struct {
		name     string
		was, now []string
	}{{"principal", prev.Principals, next.Principals}, {"admin", prev.Admins, next.Admins},
		{"auditor", prev.Auditors, next.Auditors}, {"adopter", prev.Adopters, next.Adopters}} {
		for _, v := range set.now {
			if !slices.Contains(set.was, v) {
				out = append(out, "added "+set.name+" "+v)
			}
		}
		for _, v := range set.was {
			if !slices.Contains(set.now, v) {
				out = append(out, "removed "+set.name+" "+v)
			}
		}
	}
	return out
}

func principalSet(cfg *Config) []string {
	out := make([]string, 0, len(cfg.Principals))
	for _, m := range cfg.Principals {
		out = append(out, m.ARN+" <- "+m.source()+":"+m.Identity)
	}
	slices.Sort(out)
	return out
}

func sorted(v []string) []string {
	out := slices.Clone(v)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// configDigest is "sha256:" and the hex SHA-256 of canonicalConfig.
func configDigest(cfg *Config) (string, error) {
	b, err := canonicalConfig(cfg)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// canonicalConfig is the configuration as JSON with sorted keys: every
// setting as YAML would write it, the store DSN's password and any
// secret-named value replaced, and the contents of the client CA, server
// certificate and revocation list files as digests (who may connect
// depends on them, not on their names). Secret files (keys, PINs, the
// audit context secret) are named, never read.
func canonicalConfig(cfg *Config) ([]byte, error) {
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("config digest: %w", err)
	}
	var tree any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		return nil, fmt.Errorf("config digest: %w", err)
	}
	redact(tree)
	files := map[string]string{}
	for name, path := range map[string]string{"tls.client_ca": cfg.TLS.ClientCA, "tls.cert": cfg.TLS.Cert, "tls.crl_file": cfg.TLS.CRLFile} {
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config digest: %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		files[name] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return json.Marshal(map[string]any{"config": tree, "files": files})
}

// secretKey names settings whose values are secrets themselves (not a
// file or variable naming one).
var secretKey = regexp.MustCompile(`(?i)(^|_)(password|secret|pin|token)$`)

// redact replaces secret values in a decoded YAML tree, in place.
func redact(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			switch {
			case k == "dsn":
				if s, ok := val.(string); ok {
					t[k] = redactDSN(s)
				}
			case secretKey.MatchString(k):
				t[k] = "REDACTED"
			default:
				redact(val)
			}
		}
	case []any:
		for _, e := range t {
			redact(e)
		}
	}
}

var dsnPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('[^']*'|\S+)`)

// redactDSN hides a PostgreSQL DSN's password, in URL or key=value form.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "REDACTED")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	if strings.Contains(dsn, "=") {
		return dsnPassword.ReplaceAllString(dsn, "${1}REDACTED")
	}
	return dsn
}
