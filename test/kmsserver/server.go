// Package kmsserver is an in-process AWS KMS for tests: an HTTP server on
// loopback that speaks the AWS JSON 1.1 protocol exactly as the real
// aws-sdk-go-v2 kms client sends it (X-Amz-Target: TrentService.<Op>,
// Content-Type application/x-amz-json-1.1, base64 blobs, KMS's field
// names), does the cryptography for real, answers with KMS's error shapes
// and an x-amzn-RequestId on every response, and records each call it
// serves as a CloudTrail record. The same endpoint answers CloudTrail's
// LookupEvents from those records (lookup.go), as trail files hold them.
//
// Tests build the real SDK client with kms.NewFromConfig(s.AWSConfig()),
// or point their own at URL with any credentials scoped to Region. SigV4
// signatures are recomputed for access keys registered with
// SetCredentials (AWSConfig's included); others are accepted unverified.
// Failures are injected with Throttle, FailInternal, Fail and SetLatency.
package kmsserver

import (
	"crypto/fips140"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// Defaults for the account and region the server pretends to be.
const (
	DefaultRegion  = "eu-west-1"
	DefaultAccount = "111122223333"
)

// maxBody bounds a request body; KMS's largest inputs (a 32 KiB policy,
// 6144-byte ciphertexts) are far below it.
const maxBody = 1 << 20

// Server is one in-memory KMS region of one account.
type Server struct {
	URL     string // base endpoint, e.g. http://127.0.0.1:41234
	Region  string
	Account string

	srv *httptest.Server

	mu         sync.Mutex
	keys       map[string]*key          // by key id (uuid)
	aliases    map[string]*alias        // by alias name ("alias/x")
	faults     map[string]*fault        // by operation; "" applies to every operation
	quotas     map[string]*rate.Limiter // SetQuota, by operation
	throttled  atomic.Int64             // requests a quota refused
	principals map[string]string        // access key id -> IAM ARN
	secrets    map[string]string        // access key id -> secret, for SigV4 checks
	records    []Record
	delivered  int // records already written by WriteCloudTrail
	// lookupLimit is CloudTrail's LookupEvents rate limit (lookup.go).
	lookupLimit *rate.Limiter
	// imports are the live GetParametersForImport answers, by token
	// (ops_import.go); clock is what their expiry and imported material's
	// are measured by (SetClock).
	imports map[string]*importParams
	clock   func() time.Time
}

// New starts a server for the duration of the test.
func New(t testing.TB) *Server {
	t.Helper()
	s := NewServer(DefaultRegion, DefaultAccount)
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a server on a loopback port; the caller must Close it.
func NewServer(region, account string) *Server {
	s := NewHandler(region, account)
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	return s
}

// NewHandler returns a server that is not listening, for a caller that
// serves it on its own listener (the kmsserver command). URL is empty.
func NewHandler(region, account string) *Server {
	return &Server{
		Region:      region,
		Account:     account,
		keys:        map[string]*key{},
		aliases:     map[string]*alias{},
		faults:      map[string]*fault{},
		principals:  map[string]string{},
		secrets:     map[string]string{TestAccessKeyID: TestSecretAccessKey},
		lookupLimit: rate.NewLimiter(LookupRate, LookupRate),
		imports:     map[string]*importParams{},
		clock:       now,
	}
}

// Close stops the server; later calls fail to connect, like an outage.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// SetPrincipal names the IAM identity that signs with accessKeyID, as it
// appears in CloudTrail's userIdentity.
func (s *Server) SetPrincipal(accessKeyID, arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.principals[accessKeyID] = arn
}

// call is one request being served.
type call struct {
	op        string
	caller    string // IAM ARN of the signing access key
	body      []byte
	params    map[string]any // CloudTrail requestParameters (never plaintext)
	response  map[string]any // CloudTrail responseElements
	resources []string       // key ARNs touched
}

// ServeHTTP implements the AWS JSON 1.1 wire protocol. This server stands
// in for AWS, whose cryptography is not keygate's, so it runs outside
// GODEBUG=fips140=only's enforcement, which is there to check keygate's.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fips140.WithoutEnforcement(func() { s.serveHTTP(w, r) })
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := uuid.NewString()
	w.Header()["x-amzn-RequestId"] = []string{reqID} // KMS's spelling
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), cloudTrailTarget) {
		s.serveCloudTrail(w, r) // LookupEvents, lookup.go
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	c := &call{op: op, params: map[string]any{}}
	out, kerr := s.serve(r, c)
	if kerr == nil {
		s.record(r, reqID, c, nil)
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	if kerr.record {
		s.record(r, reqID, c, kerr)
	}
	w.WriteHeader(kerr.status())
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": kerr.Type, "message": kerr.Msg})
}

// serve checks the envelope, applies injected faults and runs the operation.
func (s *Server) serve(r *http.Request, c *call) (any, *kmsError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, errf("UnknownOperationException", "POST / expected")
	}
	if !strings.HasPrefix(r.Header.Get("X-Amz-Target"), "TrentService.") {
		return nil, errf("UnknownOperationException", "missing or foreign X-Amz-Target")
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		return nil, errf("UnknownOperationException", "Content-Type must be application/x-amz-json-1.1, got %q", ct)
	}
	if kerr := s.checkAuth(r); kerr != nil {
		return nil, kerr
	}
	handler, ok := operations[c.op]
	if !ok {
		return nil, errf("UnknownOperationException", "")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		return nil, errf("SerializationException", "request body too large or unreadable")
	}
	c.body = body
	accessKey, _, _ := credential(r.Header.Get("Authorization"))
	s.mu.Lock()
	c.caller = s.identity(accessKey).ARN
	secret, known := s.secrets[accessKey]
	s.mu.Unlock()
	if known && !verifySignature(r, body, r.Header.Get("Authorization"), secret) {
		return nil, errf("InvalidSignatureException", "The request signature we calculated does not match the signature you provided. "+
			"Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	if kerr := s.injected(r, c.op); kerr != nil {
		kerr.record = true
		return nil, kerr
	}
	if kerr := s.overQuota(c.op); kerr != nil {
		return nil, kerr
	}
	out, kerr := handler.fn(s, c)
	if kerr != nil {
		kerr.record = true
	}
	return out, kerr
}

// checkAuth requires a SigV4 Authorization header scoped to this region
// and to the kms service. The signature itself is not recomputed: the SDK
// is trusted to sign, the test server checks it was configured right.
func (s *Server) checkAuth(r *http.Request) *kmsError {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") {
		return errf("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	_, scope, ok := credential(auth)
	if !ok {
		return errf("IncompleteSignatureException", "Authorization header has no Credential")
	}
	parts := strings.Split(scope, "/")
	if len(parts) != 4 || parts[1] != s.Region || parts[2] != "kms" || parts[3] != "aws4_request" {
		return errf("InvalidSignatureException", "Credential should be scoped to region %s and service kms, got %s", s.Region, scope)
	}
	return nil
}

// credential splits "Credential=AKID/20260101/region/kms/aws4_request".
func credential(auth string) (accessKey, scope string, ok bool) {
	_, rest, found := strings.Cut(auth, "Credential=")
	if !found {
		return "", "", false
	}
	rest, _, _ = strings.Cut(rest, ",")
	accessKey, scope, ok = strings.Cut(strings.TrimSpace(rest), "/")
	return accessKey, scope, ok && accessKey != ""
}

// sourceIP is the caller's address as CloudTrail shows it.
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// now is the server clock, in UTC.
func now() time.Time { return time.Now().UTC() }
