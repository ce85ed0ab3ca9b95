package kmsserver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/google/uuid"

	"github.com/keygate/keygate/test/kmsserver"
)

// post sends a raw AWS JSON 1.1 request, as the SDK would frame it.
func post(t *testing.T, srv *kmsserver.Server, op, body string) (int, map[string]string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDRAW/20261123/"+srv.Region+
		"/kms/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	str := map[string]string{}
	for k, v := range out {
		if s, ok := v.(string); ok {
			str[k] = s
		}
	}
	return resp.StatusCode, str, resp.Header
}

func TestWireErrors(t *testing.T) {
	srv := kmsserver.New(t)
	for _, tc := range []struct {
		op, body, typ string
		status        int
	}{
		{"CreateKey", `{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY","Bogus":1}`, "ValidationException", 400},
		{"Sign", `{"Message":"AA==","SigningAlgorithm":"ECDSA_SHA_256"}`, "ValidationException", 400},
		{"Sign", `{"KeyId":"alias/x","Message":"` + base64.StdEncoding.EncodeToString(make([]byte, 4097)) + `","SigningAlgorithm":"ECDSA_SHA_256"}`, "ValidationException", 400},
		{"Encrypt", `{"KeyId":"alias/x","Plaintext":"not base64!"}`, "SerializationException", 400},
		{"Sign", `{"KeyId":"alias/missing","Message":"AA==","SigningAlgorithm":"ECDSA_SHA_256"}`, "NotFoundException", 400},
		{"Decrypt", `{"CiphertextBlob":"AAAA"}`, "InvalidCiphertextException", 400},
		{"CreateKey", `{"KeySpec":"HMAC_256","KeyUsage":"SIGN_VERIFY"}`, "ValidationException", 400},
		{"CreateKey", `{"Policy":"{}"}`, "MalformedPolicyDocumentException", 400},
		{"NoSuchOp", `{}`, "UnknownOperationException", 400},
	} {
		status, body, h := post(t, srv, tc.op, tc.body)
		if status != tc.status || body["__type"] != tc.typ {
			t.Errorf("%s %s: %d %v, want %d %s", tc.op, tc.body[:min(len(tc.body), 60)], status, body, tc.status, tc.typ)
		}
		if _, err := uuid.Parse(h.Get("x-amzn-RequestId")); err != nil {
			t.Errorf("%s: x-amzn-RequestId %q is not a uuid", tc.op, h.Get("x-amzn-RequestId"))
		}
	}
	srv.FailInternal("ListAliases", 1)
	if status, body, _ := post(t, srv, "ListAliases", `{}`); status != 500 || body["__type"] != "KMSInternalException" {
		t.Errorf("injected internal error: %d %v", status, body)
	}
	if status, _, _ := post(t, srv, "ListAliases", `{}`); status != 200 {
		t.Errorf("fault not consumed: %d", status)
	}
}

func sdkClient(srv *kmsserver.Server, region string) *kms.Client {
	cfg := srv.AWSConfig()
	cfg.Region = region
	cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDSDK", "s", "")
	return kms.NewFromConfig(cfg)
}

func TestSDKAndCloudTrail(t *testing.T) {
	srv := kmsserver.New(t)
	srv.SetPrincipal("AKIDSDK", "arn:aws:sts::111122223333:assumed-role/keygated/i-0abc")
	c := sdkClient(srv, srv.Region)
	ctx := context.Background()
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(key.KeyMetadata.Arn)
	secret := "4111111111111111"
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyMetadata.KeyId, Plaintext: []byte(secret),
		EncryptionContext: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	// A symmetric blob names its key: Decrypt needs no KeyId.
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"k": "v"}})
	if err != nil || string(dec.Plaintext) != secret || aws.ToString(dec.KeyId) != arn {
		t.Fatalf("Decrypt = %q %s, %v", dec.Plaintext, aws.ToString(dec.KeyId), err)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	var bad *types.InvalidCiphertextException
	if !errors.As(err, &bad) {
		t.Fatalf("Decrypt without the context: %v, want InvalidCiphertextException", err)
	}
	// A client signing for another region is refused.
	if _, err := sdkClient(srv, "us-east-1").ListAliases(ctx, &kms.ListAliasesInput{}); err == nil {
		t.Fatal("request signed for another region accepted")
	}

	recs := srv.Records()
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4 (CreateKey, Encrypt, Decrypt, failed Decrypt)", len(recs))
	}
	e := recs[1]
	if e.EventVersion != "1.08" || e.EventSource != "kms.amazonaws.com" || e.EventName != "Encrypt" ||
		e.AWSRegion != srv.Region || e.EventType != "AwsApiCall" || e.EventCategory != "Management" || !e.ReadOnly ||
		e.UserIdentity.Type != "AssumedRole" || e.UserIdentity.AccessKeyID != "AKIDSDK" ||
		len(e.Resources) != 1 || e.Resources[0].ARN != arn || e.Resources[0].Type != "AWS::KMS::Key" ||
		e.SourceIPAddress != "127.0.0.1" || !strings.Contains(e.UserAgent, "aws-sdk-go-v2") {
		t.Fatalf("Encrypt record not in CloudTrail form: %+v", e)
	}
	if recs[3].ErrorCode != "InvalidCiphertextException" || len(recs[3].Resources) != 1 || recs[3].Resources[0].ARN != arn {
		t.Fatalf("failed Decrypt record: %+v", recs[3])
	}

	dir := t.TempDir()
	path, err := srv.WriteCloudTrail(dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Records []map[string]any }
	if err := json.NewDecoder(zr).Decode(&file); err != nil {
		t.Fatal(err)
	}
	if len(file.Records) != 4 || file.Records[1]["requestID"] != recs[1].RequestID || file.Records[1]["eventID"] == "" {
		t.Fatalf("log file records: %v", file.Records)
	}
	text, _ := json.Marshal(file)
	if bytes.Contains(text, []byte(secret)) || bytes.Contains(text, []byte(base64.StdEncoding.EncodeToString([]byte(secret)))) {
		t.Fatal("the CloudTrail file holds the plaintext")
	}
	if !strings.Contains(path, "/AWSLogs/111122223333/CloudTrail/"+srv.Region+"/") {
		t.Fatalf("log file path %s is not a trail's layout", path)
	}
	if again, _ := srv.WriteCloudTrail(dir); again != "" {
		t.Fatal("records delivered twice")
	}
}
