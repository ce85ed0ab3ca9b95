package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// jsonLines are the JSON log lines written to l so far.
func jsonLines(l *harness.LogBuffer) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(l.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// A denied call and a failed call each leave exactly one log line naming
// the call, its correlation id and the caller's trace id; the plaintext
// and the encryption context values never appear in the log.
func TestLogOneLinePerFailedCall(t *testing.T) {
	var logBuf harness.LogBuffer
	env := harness.Start(t, harness.Options{Log: &logBuf, JSONLog: true})
	admins := harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}}
	env.CreateKeyWithPolicy("pan-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", harness.Policy(admins,
		harness.Statement{Sid: "Acs", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Encrypt", "kms:Decrypt"}}))
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	call := func(id string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "x-request-id", id,
			"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	}
	secret, ctxValue := "4111111111111111", "tenant-secret-value"
	_, err := env.Crypto("3ds-server").Encrypt(call("denied-1"), &pb.EncryptRequest{KeyId: "pan-key", Plaintext: []byte(secret),
		EncryptionContext: map[string]string{"tenant": ctxValue}})
	wantCode(t, err, codes.PermissionDenied)
	_, err = env.Crypto("acs").Decrypt(call("failed-1"), &pb.DecryptRequest{CiphertextBlob: []byte("not a ciphertext " + secret),
		EncryptionContext: map[string]string{"tenant": ctxValue}})
	if err == nil {
		t.Fatal("a garbage ciphertext decrypted")
	}
	if _, err := env.Crypto("acs").Encrypt(call("ok-1"), &pb.EncryptRequest{KeyId: "pan-key", Plaintext: []byte(secret)}); err != nil {
		t.Fatal(err)
	}

	count := map[string]int{}
	for _, l := range jsonLines(&logBuf) {
		id, _ := l["correlation_id"].(string)
		if id == "" || (l["msg"] != "call denied" && l["msg"] != "call failed") {
			continue
		}
		count[id]++
		if l["trace_id"] != traceID {
			t.Errorf("line for %s has trace_id %v, want the caller's %s", id, l["trace_id"], traceID)
		}
		if l["method"] == "" || l["code"] == "" || l["code"] == "OK" {
			t.Errorf("line for %s lacks the method or code: %v", id, l)
		}
	}
	if count["denied-1"] != 1 || count["failed-1"] != 1 || count["ok-1"] != 0 {
		t.Errorf("log lines per call: %v; want one each for denied-1 and failed-1, none for ok-1", count)
	}
	all := logBuf.String()
	for _, leak := range []string{secret, ctxValue} {
		if strings.Contains(all, leak) {
			t.Errorf("the log contains %q", leak)
		}
	}
}
