package kms

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"gopkg.in/yaml.v3"

	"github.com/keygate/keygate/backends"
)

// Config is a kms backend's section of keygated's config file:
//
//	backends:
//	  kms:
//	    type: kms
//	    region: eu-west-1
//	    endpoint: https://vpce-0123-abcd.kms.eu-west-1.vpce.amazonaws.com  # optional
//	    verify_remote: false
//	    max_attempts: 3
//	    requests_per_second: 500   # optional: keygated's share of the KMS quota
//	    burst: 50
//
// Credentials come from the SDK's default chain (environment, shared
// config, instance or pod role), never from this file.
type Config struct {
	// Region is the KMS region; empty takes AWS_REGION / the shared config.
	Region string `yaml:"region"`
	// Endpoint overrides KMS's regional endpoint: a VPC interface endpoint,
	// or a KMS-compatible test server.
	Endpoint string `yaml:"endpoint"`
	// VerifyRemote makes Verify and VerifyMAC ask KMS (a CloudTrail record
	// per verification); by default signatures are checked locally against
	// the public key cached at Open.
	VerifyRemote bool `yaml:"verify_remote"`
	// MaxAttempts bounds the SDK's standard retryer (attempts, not
	// retries); 0 means the SDK default of 3.
	MaxAttempts int `yaml:"max_attempts"`
	// RequestsPerSecond is keygated's budget of requests to this KMS
	// backend (every operation and retry; KMS's quota is per account and
	// region, e.g. 1,000/s for ECC signing, shared by every caller). Over
	// it a call fails with ResourceExhausted and a retry-after hint before
	// KMS is asked. 0 (default) means no budget.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Burst is how many requests may go at once above the steady rate
	// (default: one second's worth).
	Burst int `yaml:"burst"`
}

// maxAttemptsLimit keeps a misconfigured retryer from holding a call
// beyond any sane deadline.
const maxAttemptsLimit = 10

func init() {
	backends.Register("kms", func(ctx context.Context, name string, node *yaml.Node) (backends.Backend, error) {
		var c Config
		if err := backends.DecodeConfig(node, &c); err != nil {
			return nil, fmt.Errorf("kms backend %q: %w", name, err)
		}
		return Open(ctx, name, c)
	})
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint: %q is not an http(s) URL", c.Endpoint))
		}
	}
	if c.RequestsPerSecond < 0 {
		errs = append(errs, fmt.Errorf("requests_per_second: %v is negative", c.RequestsPerSecond))
	}
	if c.Burst < 0 || (c.Burst > 0 && c.RequestsPerSecond == 0) {
		errs = append(errs, fmt.Errorf("burst: %d needs requests_per_second and must not be negative", c.Burst))
	}
	if c.MaxAttempts < 0 || c.MaxAttempts > maxAttemptsLimit {
		errs = append(errs, fmt.Errorf("max_attempts: %d is outside 0..%d", c.MaxAttempts, maxAttemptsLimit))
	}
	return errors.Join(errs...)
}

// Open builds a kms backend from its config, with credentials and region
// from the SDK's default chain where the config leaves them out.
func Open(ctx context.Context, name string, c Config) (*Backend, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("kms backend %q: %w", name, err)
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				if c.MaxAttempts > 0 {
					o.MaxAttempts = c.MaxAttempts
				}
			})
		}),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("kms backend %q: loading AWS config: %w", name, err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("kms backend %q: region: not set (config region, AWS_REGION or the shared config)", name)
	}
	return New(name, cfg, Options{Endpoint: c.Endpoint, VerifyRemote: c.VerifyRemote,
		RequestsPerSecond: c.RequestsPerSecond, Burst: c.Burst}), nil
}
