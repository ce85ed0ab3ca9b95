package server

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/keygate/keygate/threeds"
)

// SdkServerConfig is what the DS trusts when it verifies a Split-SDK
// server's sdkServerSignedContent (VerifySdkServerSignedContent).
type SdkServerConfig struct {
	// CAFile holds the DS CA certificates (PEM) that Split-SDK server
	// certificates must chain to. Empty: the call is FailedPrecondition.
	CAFile string `yaml:"ca_file"`
	// MaxSkew is how far sdkSignatureTimestamp may be from keygate's clock
	// (default 5m).
	MaxSkew time.Duration `yaml:"max_skew"`
	// Principals may call VerifySdkServerSignedContent: it is about no
	// key, so, like kms:CreateKey for admins, the config grants it.
	Principals []string `yaml:"principals"`
}

func (c *SdkServerConfig) validate(add func(string, ...any)) {
	if c.MaxSkew < 0 || c.MaxSkew > time.Hour {
		add("threeds.sdk_server.max_skew must be between 0 and 1h")
	}
	if c.CAFile != "" {
		if _, err := c.trust(); err != nil {
			add("threeds.sdk_server.ca_file: %v", err)
		}
	}
}

// trust loads the CA file; no file is an empty trust, which refuses.
func (c *SdkServerConfig) trust() (threeds.SdkServerTrust, error) {
	t := threeds.SdkServerTrust{MaxSkew: c.MaxSkew}
	if c.CAFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return t, err
	}
	t.Roots = x509.NewCertPool()
	if !t.Roots.AppendCertsFromPEM(pem) {
		return t, fmt.Errorf("no PEM certificate in %s", c.CAFile)
	}
	return t, nil
}
