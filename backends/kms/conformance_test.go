package kms

import (
	"testing"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/backends/backendtest"
	"github.com/keygate/keygate/test/kmsserver"
)

// TestConformance runs the shared backend suite through the real SDK
// client against the KMS test server.
func TestConformance(t *testing.T) {
	srv := kmsserver.New(t)
	srv.SetCredentials(testAccessKey, testSecret, "")
	backendtest.Run(t, backendtest.Target{
		New: func(t *testing.T) backends.Backend {
			return New("kms", testConfig(srv, 3), Options{Endpoint: srv.URL})
		},
		UnknownID: "arn:aws:kms:" + srv.Region + ":" + srv.Account + ":key/00000000-0000-4000-8000-000000000000",
	})
}
