// Package s3server is an S3 endpoint for tests, faithful enough for the
// audit witness: path-style PutObject (with Object Lock headers, checksums,
// aws-chunked bodies and If-None-Match), GetObject, ListObjectsV2, and
// S3's error XML with request ids. Buckets made with object lock keep
// every version of an object and refuse to lose a locked one.
package s3server

import (
	"crypto/fips140"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the S3 test endpoint. Its zero value is not usable: call New
// or NewHandler.
type Server struct {
	URL string
	ts  *httptest.Server

	mu      sync.Mutex
	buckets map[string]*bucket
	down    bool
	now     func() time.Time
}

type bucket struct {
	lock    bool                 // created with Object Lock (and so versioning) enabled
	objects map[string][]*object // every version, oldest first
}

type object struct {
	data        []byte
	etag        string
	contentType string
	modified    time.Time
	versionID   string
	lockMode    string
	retainUntil time.Time
	checksums   http.Header // the x-amz-checksum-* the put carried
}

// New serves on a local port until the test ends.
func New(t testing.TB) *Server {
	s := NewHandler()
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	t.Cleanup(s.ts.Close)
	return s
}

// NewTLS serves over HTTPS, as S3 does: the SDK then streams bodies
// aws-chunked with a trailing checksum. HTTPClient trusts it.
func NewTLS(t testing.TB) *Server {
	s := NewHandler()
	s.ts = httptest.NewTLSServer(s)
	s.URL = s.ts.URL
	t.Cleanup(s.ts.Close)
	return s
}

// HTTPClient is a client for the server (for NewTLS, one that trusts its
// certificate).
func (s *Server) HTTPClient() *http.Client { return s.ts.Client() }

// NewHandler is a Server to mount on an http.Server of one's own.
func NewHandler() *Server {
	return &Server{buckets: map[string]*bucket{}, now: func() time.Time { return time.Now().UTC() }}
}

// CreateBucket makes a bucket, with Object Lock enabled or not.
func (s *Server) CreateBucket(name string, objectLock bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buckets[name] = &bucket{lock: objectLock, objects: map[string][]*object{}}
}

// SetDown makes every request fail with 503 SlowDown-like ServiceUnavailable.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Versions returns the stored versions of key, oldest first, with their
// lock mode and retention, for tests to check what a put left behind.
func (s *Server) Versions(bucketName, key string) []ObjectInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucketName]
	if b == nil {
		return nil
	}
	var out []ObjectInfo
	for _, o := range b.objects[key] {
		out = append(out, ObjectInfo{Data: append([]byte(nil), o.data...), LockMode: o.lockMode, RetainUntil: o.retainUntil})
	}
	return out
}

// ObjectInfo is one stored version.
type ObjectInfo struct {
	Data        []byte
	LockMode    string
	RetainUntil time.Time
}

// s3Error is S3's error document.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string
	Message   string
	Resource  string `xml:",omitempty"`
	RequestID string `xml:"RequestId"`
	status    int
}

func errorf(status int, code, format string, args ...any) *s3Error {
	return &s3Error{Code: code, Message: fmt.Sprintf(format, args...), status: status}
}

// ServeHTTP answers one request. This server stands in for AWS, whose
// cryptography is not keygate's, so it runs outside GODEBUG=fips140=only's
// enforcement, which is there to check keygate's own code.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fips140.WithoutEnforcement(func() { s.serveHTTP(w, r) })
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newID(8)
	w.Header().Set("x-amz-request-id", reqID)
	w.Header().Set("x-amz-id-2", newID(24))
	w.Header().Set("Server", "AmazonS3")
	if e := s.serve(w, r); e != nil {
		e.RequestID = reqID
		e.Resource = r.URL.Path
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(e.status)
		w.Write([]byte(xml.Header))
		xml.NewEncoder(w).Encode(e)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) *s3Error {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return errorf(http.StatusServiceUnavailable, "ServiceUnavailable", "Please reduce your request rate.")
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		return errorf(http.StatusForbidden, "AccessDenied", "Access Denied")
	}
	name, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	s.mu.Lock()
	b := s.buckets[name]
	s.mu.Unlock()
	if b == nil {
		return errorf(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	}
	switch {
	case r.Method == http.MethodPut && key != "":
		return s.put(w, r, b, key)
	case r.Method == http.MethodGet && key != "":
		return s.get(w, r, b, key)
	case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		return s.list(w, r, b, name)
	}
	return errorf(http.StatusNotImplemented, "NotImplemented", "A header or query you provided implies functionality that is not implemented")
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, b *bucket, key string) *s3Error {
	s.mu.Lock()
	vs := b.objects[key]
	s.mu.Unlock()
	if len(vs) == 0 {
		return errorf(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	}
	o := vs[len(vs)-1]
	h := w.Header()
	h.Set("Content-Type", o.contentType)
	h.Set("Content-Length", strconv.Itoa(len(o.data)))
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
	if o.versionID != "" {
		h.Set("x-amz-version-id", o.versionID)
	}
	if r.Header.Get("x-amz-checksum-mode") == "ENABLED" {
		for name, v := range o.checksums {
			h[name] = v
		}
	}
	if o.lockMode != "" {
		h.Set("x-amz-object-lock-mode", o.lockMode)
		h.Set("x-amz-object-lock-retain-until-date", o.retainUntil.Format(time.RFC3339))
	}
	w.Write(o.data)
	return nil
}

type listResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	KeyCount              int
	MaxKeys               int
	IsTruncated           bool
	NextContinuationToken string `xml:",omitempty"`
	StartAfter            string `xml:",omitempty"`
	Delimiter             string `xml:",omitempty"`
	Contents              []listEntry
	CommonPrefixes        []commonPrefix
}

type commonPrefix struct{ Prefix string }

type listEntry struct {
	Key          string
	LastModified string
	ETag         string
	Size         int
	StorageClass string
}

// list is ListObjectsV2: keys in ascending UTF-8 order after the
// continuation token (or start-after), at most max-keys (default 1000);
// with a delimiter, the keys that hold it after the prefix are rolled up
// into one common prefix each, which counts as one entry.
func (s *Server) list(w http.ResponseWriter, r *http.Request, b *bucket, name string) *s3Error {
	q := r.URL.Query()
	maxKeys := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errorf(http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range")
		}
		maxKeys = min(n, 1000)
	}
	after := q.Get("start-after")
	if t := q.Get("continuation-token"); t != "" {
		after = t
	}
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	s.mu.Lock()
	var keys []string
	for k, vs := range b.objects {
		skipped := delim != "" && strings.HasSuffix(after, delim) && strings.HasPrefix(k, after) // under a prefix already listed
		if strings.HasPrefix(k, prefix) && k > after && len(vs) > 0 && !skipped {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	res := listResult{Name: name, Prefix: prefix, MaxKeys: maxKeys, StartAfter: q.Get("start-after"), Delimiter: delim}
	last := ""
	for _, k := range keys {
		cp := ""
		if i := strings.Index(k[len(prefix):], delim); delim != "" && i >= 0 {
			cp = k[:len(prefix)+i+len(delim)]
			if cp == last {
				continue
			}
		}
		if len(res.Contents)+len(res.CommonPrefixes) == maxKeys {
			res.IsTruncated = true
			res.NextContinuationToken = last
			break
		}
		if cp != "" {
			res.CommonPrefixes = append(res.CommonPrefixes, commonPrefix{cp})
			last = cp
			continue
		}
		o := b.objects[k][len(b.objects[k])-1]
		res.Contents = append(res.Contents, listEntry{Key: k, LastModified: o.modified.Format("2006-01-02T15:04:05.000Z"),
			ETag: o.etag, Size: len(o.data), StorageClass: "STANDARD"})
		last = k
	}
	s.mu.Unlock()
	res.KeyCount = len(res.Contents) + len(res.CommonPrefixes)
	w.Header().Set("Content-Type", "application/xml")
	w.Write([]byte(xml.Header))
	xml.NewEncoder(w).Encode(res)
	return nil
}

func newID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// PutDir stores every file under dir in the bucket, keyed by its path
// relative to dir with slashes (a trail's log files, as CloudTrail writes
// them), creating the bucket if needed.
func (s *Server) PutDir(bucketName, dir string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[bucketName]
	if b == nil {
		b = &bucket{objects: map[string][]*object{}}
		s.buckets[bucketName] = b
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		sum := md5.Sum(data)
		b.objects[filepath.ToSlash(rel)] = append(b.objects[filepath.ToSlash(rel)], &object{data: data,
			etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: s.now(), versionID: newID(16)})
		return nil
	})
}
