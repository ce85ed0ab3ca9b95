package s3server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The refusals the witness relies on S3 for, sent raw: a body whose
// trailing checksum is wrong, an Object Lock put without a checksum, a
// retention date in the past; each answered with S3's error XML and a
// request id.
func TestPutRefusals(t *testing.T) {
	srv := New(t)
	srv.CreateBucket("b", true)
	sum := sha256.Sum256([]byte("hello"))
	good := base64.StdEncoding.EncodeToString(sum[:])
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	chunked := func(trailer string) string {
		return "5\r\nhello\r\n0\r\nx-amz-checksum-sha256:" + trailer + "\r\n\r\n"
	}
	for _, tc := range []struct {
		name    string
		body    string
		headers map[string]string
		status  int
		code    string
	}{
		{"chunked, right trailer", chunked(good), map[string]string{"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
			"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "5", "x-amz-object-lock-mode": "COMPLIANCE",
			"x-amz-object-lock-retain-until-date": future}, 200, ""},
		{"chunked, wrong trailer", chunked(base64.StdEncoding.EncodeToString(make([]byte, 32))), map[string]string{
			"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked"}, 400, "BadDigest"},
		{"lock without checksum", "hello", map[string]string{"x-amz-object-lock-mode": "COMPLIANCE",
			"x-amz-object-lock-retain-until-date": future}, 400, "InvalidRequest"},
		{"retention in the past", "hello", map[string]string{"x-amz-checksum-sha256": good, "x-amz-object-lock-mode": "GOVERNANCE",
			"x-amz-object-lock-retain-until-date": "2020-01-01T00:00:00Z"}, 400, "InvalidArgument"},
		{"unsigned", "hello", map[string]string{"Authorization": ""}, 403, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPut, srv.URL+"/b/"+strings.ReplaceAll(tc.name, " ", "-"), strings.NewReader(tc.body))
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=A/20261129/eu-west-1/s3/aws4_request")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := srv.HTTPClient().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Code, RequestId string }
			xml.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("status %d code %q, want %d %q", resp.StatusCode, e.Code, tc.status, tc.code)
			}
			if tc.code != "" && (e.RequestId == "" || e.RequestId != resp.Header.Get("x-amz-request-id")) {
				t.Fatalf("request id %q in the body, %q in the header", e.RequestId, resp.Header.Get("x-amz-request-id"))
			}
		})
	}
	if vs := srv.Versions("b", "chunked,-right-trailer"); len(vs) != 1 || string(vs[0].Data) != "hello" {
		t.Fatalf("the chunked put stored %+v", vs)
	}
}
