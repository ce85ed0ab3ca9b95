// Package s3server serves a local directory as one S3 bucket for tests:
// ListObjectsV2 (prefix, delimiter, max-keys, continuation tokens) and
// GetObject over S3's REST-XML protocol, path-style, as the real
// aws-sdk-go-v2 s3 client sends them. Trail files written by
// kmsserver.WriteCloudTrail into the directory are then the trail's bucket.
package s3server

import (
	"encoding/xml"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Server is one bucket backed by a directory.
type Server struct {
	URL    string
	Bucket string
	Dir    string
}

// New serves dir as bucket for the duration of the test.
func New(t testing.TB, bucket, dir string) *Server {
	s := &Server{Bucket: bucket, Dir: dir}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amz-request-id", strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", ""))[:16])
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		s.fail(w, http.StatusForbidden, "AccessDenied", "Access Denied")
		return
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case r.Method != http.MethodGet:
		s.fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	case bucket != s.Bucket:
		s.fail(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
	case key == "" && r.URL.Query().Get("list-type") == "2":
		s.list(w, r)
	case key == "":
		s.fail(w, http.StatusNotImplemented, "NotImplemented", "only ListObjectsV2")
	default:
		s.get(w, key)
	}
}

type listResult struct {
	XMLName               xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string
	Prefix                string
	Delimiter             string `xml:",omitempty"`
	MaxKeys               int
	KeyCount              int
	IsTruncated           bool
	ContinuationToken     string     `xml:",omitempty"`
	NextContinuationToken string     `xml:",omitempty"`
	Contents              []object   `xml:"Contents"`
	CommonPrefixes        []cpPrefix `xml:"CommonPrefixes"`
}

type object struct {
	Key          string
	LastModified string
	ETag         string
	Size         int64
	StorageClass string
}

type cpPrefix struct{ Prefix string }

// list walks the directory: every file is a key, and with a delimiter the
// keys sharing a prefix up to it collapse into one CommonPrefixes entry.
func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	max := 1000
	if v := q.Get("max-keys"); v != "" {
		max, _ = strconv.Atoi(v)
	}
	type entry struct {
		key    string
		info   fs.FileInfo
		prefix bool
	}
	var all []entry
	seen := map[string]bool{}
	_ = filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(s.Dir, p)
		key := filepath.ToSlash(rel)
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		if delim != "" {
			if i := strings.Index(key[len(prefix):], delim); i >= 0 {
				cp := key[:len(prefix)+i+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					all = append(all, entry{key: cp, prefix: true})
				}
				return nil
			}
		}
		info, _ := d.Info()
		all = append(all, entry{key: key, info: info})
		return nil
	})
	sort.Slice(all, func(i, j int) bool { return all[i].key < all[j].key })
	start := 0
	if tok := q.Get("continuation-token"); tok != "" {
		for start < len(all) && all[start].key <= tok {
			start++
		}
	}
	res := listResult{Name: s.Bucket, Prefix: prefix, Delimiter: delim, MaxKeys: max, ContinuationToken: q.Get("continuation-token")}
	end := min(start+max, len(all))
	for _, e := range all[start:end] {
		if e.prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, cpPrefix{e.key})
		} else {
			res.Contents = append(res.Contents, object{Key: e.key, LastModified: e.info.ModTime().UTC().Format(time.RFC3339),
				ETag: `"` + strconv.FormatInt(e.info.Size(), 16) + `"`, Size: e.info.Size(), StorageClass: "STANDARD"})
		}
	}
	res.KeyCount = end - start
	if end < len(all) {
		res.IsTruncated, res.NextContinuationToken = true, all[end-1].key
	}
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(res)
}

func (s *Server) get(w http.ResponseWriter, key string) {
	p := filepath.Join(s.Dir, filepath.FromSlash(key))
	if strings.Contains(key, "..") {
		s.fail(w, http.StatusBadRequest, "InvalidArgument", "bad key")
		return
	}
	b, err := os.ReadFile(p)
	if err != nil {
		s.fail(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func (s *Server) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: code, Message: msg})
}
