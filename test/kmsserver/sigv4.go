package kmsserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// SetCredentials registers an access key's secret: requests signed with
// that key must then carry a correct SigV4 signature (else
// InvalidSignatureException), and CloudTrail names arn as the caller.
// Requests from access keys never registered are accepted unverified.
func (s *Server) SetCredentials(accessKeyID, secret, arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[accessKeyID] = secret
	if arn != "" {
		s.principals[accessKeyID] = arn
	}
}

// verifySignature recomputes the SigV4 signature of r over body with the
// access key's secret, from the headers the client says it signed.
func verifySignature(r *http.Request, body []byte, auth, secret string) bool {
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	_, scope, _ := strings.Cut(fields["Credential"], "/")
	date := r.Header.Get("X-Amz-Date")
	if fields["SignedHeaders"] == "" || fields["Signature"] == "" || len(date) < 8 || !strings.HasPrefix(scope, date[:8]) {
		return false
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") {
		return false
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n" + r.URL.EscapedPath() + "\n" + r.URL.RawQuery + "\n")
	for _, h := range signed {
		canon.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	payload := sha256.Sum256(body)
	canon.WriteString("\n" + fields["SignedHeaders"] + "\n" + hex.EncodeToString(payload[:]))
	crHash := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + date + "\n" + scope + "\n" + hex.EncodeToString(crHash[:])
	key := []byte("AWS4" + secret)
	for _, part := range strings.Split(scope, "/") {
		key = mac(key, part)
	}
	want := hex.EncodeToString(mac(key, toSign))
	return hmac.Equal([]byte(want), []byte(fields["Signature"]))
}

// headerValue is a header as SigV4 canonicalises it: values trimmed,
// inner spaces collapsed, several values joined by commas.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		if r.Header.Get("Content-Length") == "" {
			return strconv.FormatInt(r.ContentLength, 10)
		}
	}
	vals := r.Header.Values(name)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

func mac(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
