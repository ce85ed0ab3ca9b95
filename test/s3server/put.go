package s3server

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxObject bounds a put; witness objects are a few hundred bytes.
const maxObject = 5 << 20

// put is PutObject: the body (aws-chunked or plain) checked against every
// checksum the request carries, the Object Lock headers validated against
// the bucket, If-None-Match: * honoured.
func (s *Server) put(w http.ResponseWriter, r *http.Request, b *bucket, key string) *s3Error {
	data, trailers, e := readBody(r)
	if e != nil {
		return e
	}
	if e := checkChecksums(r, data, trailers); e != nil {
		return e
	}
	mode := r.Header.Get("x-amz-object-lock-mode")
	until := r.Header.Get("x-amz-object-lock-retain-until-date")
	var retain time.Time
	if mode != "" || until != "" {
		switch {
		case !b.lock:
			return errorf(http.StatusBadRequest, "InvalidRequest", "Bucket is missing Object Lock Configuration")
		case mode != "COMPLIANCE" && mode != "GOVERNANCE":
			return errorf(http.StatusBadRequest, "InvalidArgument", "Unknown wormMode directive.")
		case until == "":
			return errorf(http.StatusBadRequest, "InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied")
		}
		t, err := time.Parse(time.RFC3339, until)
		if err != nil {
			return errorf(http.StatusBadRequest, "InvalidArgument", "The retain until date must be provided in ISO 8601 format")
		}
		if !t.After(s.now()) {
			return errorf(http.StatusBadRequest, "InvalidArgument", "The retain until date must be in the future!")
		}
		if !hasChecksum(r, trailers) {
			return errorf(http.StatusBadRequest, "InvalidRequest", "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters")
		}
		retain = t.UTC()
	}
	sum := md5.Sum(data)
	o := &object{data: data, etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: s.now(),
		contentType: r.Header.Get("Content-Type"), lockMode: mode, retainUntil: retain, checksums: http.Header{}}
	for name := range checksums {
		if v := r.Header.Get(name); v != "" && name != "Content-MD5" {
			o.checksums.Set(name, v)
		} else if v := trailers.Get(name); v != "" && name != "Content-MD5" {
			o.checksums.Set(name, v)
		}
	}
	if o.contentType == "" {
		o.contentType = "binary/octet-stream"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Header.Get("If-None-Match") == "*" && len(b.objects[key]) > 0 {
		return errorf(http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")
	}
	if b.lock {
		o.versionID = newID(16)
		b.objects[key] = append(b.objects[key], o) // versioned: the old versions stay
		w.Header().Set("x-amz-version-id", o.versionID)
	} else {
		b.objects[key] = []*object{o}
	}
	w.Header().Set("ETag", o.etag)
	w.WriteHeader(http.StatusOK)
	return nil
}

// readBody returns the object's bytes, decoding aws-chunked framing
// (STREAMING-… payloads, with trailing checksums) when the request uses it.
func readBody(r *http.Request) ([]byte, http.Header, *s3Error) {
	body := io.LimitReader(r.Body, maxObject+1)
	sha := r.Header.Get("x-amz-content-sha256")
	if !strings.HasPrefix(sha, "STREAMING-") && !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		data, err := io.ReadAll(body)
		if err != nil || len(data) > maxObject {
			return nil, nil, errorf(http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
		}
		if sha != "" && sha != "UNSIGNED-PAYLOAD" {
			got := sha256.Sum256(data)
			if hex.EncodeToString(got[:]) != sha {
				return nil, nil, errorf(http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.")
			}
		}
		return data, nil, nil
	}
	data, trailers, err := decodeChunked(bufio.NewReader(body))
	if err != nil {
		return nil, nil, errorf(http.StatusBadRequest, "IncompleteBody", "The request body is not valid aws-chunked encoding: %v", err)
	}
	if n := r.Header.Get("x-amz-decoded-content-length"); n != "" && n != strconv.Itoa(len(data)) {
		return nil, nil, errorf(http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header")
	}
	return data, trailers, nil
}

// decodeChunked reads "hex-size[;chunk-signature=…]\r\n data \r\n" chunks
// up to the zero-size one, then trailer lines up to an empty line.
func decodeChunked(br *bufio.Reader) ([]byte, http.Header, error) {
	var out bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, nil, err
		}
		size, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil || n < 0 || n > maxObject {
			return nil, nil, fmt.Errorf("chunk size %q", size)
		}
		if n == 0 {
			break
		}
		if _, err := io.CopyN(&out, br, n); err != nil {
			return nil, nil, err
		}
		if crlf, err := br.ReadString('\n'); err != nil || crlf != "\r\n" {
			return nil, nil, errors.New("chunk not followed by CRLF")
		}
	}
	trailers := http.Header{}
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, nil, fmt.Errorf("trailer %q", line)
		}
		trailers.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		if err != nil {
			break
		}
	}
	return out.Bytes(), trailers, nil
}

var checksums = map[string]func() hash.Hash{
	"x-amz-checksum-sha256": sha256.New,
	"x-amz-checksum-crc32":  func() hash.Hash { return crc32.NewIEEE() },
	"x-amz-checksum-crc32c": func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
	"Content-MD5":           md5.New,
}

func hasChecksum(r *http.Request, trailers http.Header) bool {
	for name := range checksums {
		if r.Header.Get(name) != "" || trailers.Get(name) != "" {
			return true
		}
	}
	return false
}

// checkChecksums compares each checksum given (as a header or a trailer)
// with the body.
func checkChecksums(r *http.Request, data []byte, trailers http.Header) *s3Error {
	for name, h := range checksums {
		want := r.Header.Get(name)
		if want == "" {
			want = trailers.Get(name)
		}
		if want == "" {
			continue
		}
		d := h()
		d.Write(data)
		if base64.StdEncoding.EncodeToString(d.Sum(nil)) != want {
			if name == "Content-MD5" {
				return errorf(http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received.")
			}
			return errorf(http.StatusBadRequest, "BadDigest", "The %s you specified did not match the calculated checksum.", strings.TrimPrefix(name, "x-amz-checksum-"))
		}
	}
	return nil
}
