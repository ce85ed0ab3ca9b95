package kms

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	"github.com/keygate/keygate/test/kmsserver"
)

const (
	testAccessKey = "AKIAKEYGATETEST00001"
	testSecret    = "test-secret"
)

// testConfig is an AWS config for the test server: static credentials and
// the SDK's standard retryer with its backoff capped low, so retry tests
// stay quick without changing what is retried.
func testConfig(srv *kmsserver.Server, attempts int) aws.Config {
	return aws.Config{
		Region:      srv.Region,
		Credentials: credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = attempts
				o.MaxBackoff = 5 * time.Millisecond
			})
		},
	}
}

// fixture is a test server, a backend on it, and a raw SDK client for
// arranging things keygate does not do itself (aliases, disabling keys).
type fixture struct {
	srv *kmsserver.Server
	b   *Backend
	raw *kms.Client
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	srv := kmsserver.New(t)
	srv.SetCredentials(testAccessKey, testSecret, "") // every request's SigV4 signature is checked
	cfg := testConfig(srv, 3)
	opts.Endpoint = srv.URL
	raw := kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return &fixture{srv: srv, b: New("kms", cfg, opts), raw: raw}
}

// create makes a key through the backend and opens it.
func (f *fixture) create(t testing.TB, spec keys.Spec, usage keys.Usage) *Key {
	t.Helper()
	ctx := context.Background()
	id, err := f.b.CreateKey(ctx, backends.CreateRequest{Spec: spec, Usage: usage, Label: "test-" + string(spec) + "/v1"})
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", spec, usage, err)
	}
	k, err := f.b.Open(ctx, id, spec, usage)
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	return k.(*Key)
}

// wantKind fails the test unless err is a *kgerr.Error of kind want.
func wantKind(t *testing.T, err error, want kgerr.Kind) {
	t.Helper()
	var ke *kgerr.Error
	if !errors.As(err, &ke) {
		t.Fatalf("error %v (%T) is not a *kgerr.Error, want kind %v", err, err, want)
	}
	if ke.Kind != want {
		t.Fatalf("error kind %v (%v), want %v", ke.Kind, err, want)
	}
}

// withInfo is a context through which the backend reports its request id.
func withInfo() (context.Context, *backends.CallInfo) {
	info := &backends.CallInfo{}
	return backends.WithCallInfo(context.Background(), info), info
}
