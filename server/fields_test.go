package server

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/keygate/keygate/internal/kgerr"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// Every string and bytes field is bounded in length and characters before
// anything reads it; the message names the field and never echoes it.
func TestValidateRequest(t *testing.T) {
	long := strings.Repeat("a", 257)
	for name, tc := range map[string]struct {
		req   proto.Message
		field string
	}{
		"key name too long":          {&pb.SignRequest{KeyId: long}, "key_id"},
		"key name with a dot":        {&pb.SignRequest{KeyId: "a.b"}, "key_id"},
		"key name with a newline":    {&pb.SignRequest{KeyId: "a\nb"}, "key_id"},
		"algorithm with a space":     {&pb.SignRequest{KeyId: "k", SigningAlgorithm: "ECDSA SHA"}, "signing_algorithm"},
		"algorithm with ANSI escape": {&pb.SignRequest{KeyId: "k", SigningAlgorithm: "\x1b[31m"}, "signing_algorithm"},
		"oversized message type":     {&pb.SignRequest{KeyId: "k", MessageType: long}, "message_type"},
		"description with a NUL":     {&pb.CreateKeyRequest{KeyId: "k", Description: "a\x00b"}, "description"},
		"description with bidi":      {&pb.CreateKeyRequest{KeyId: "k", Description: "pay \u202etxt.exe"}, "description"},
		"description over 8192":      {&pb.CreateKeyRequest{KeyId: "k", Description: strings.Repeat("d", 8193)}, "description"},
		"policy over 32 KiB":         {&pb.PutKeyPolicyRequest{KeyId: "k", Policy: strings.Repeat(" ", 32<<10+1)}, "policy"},
		"context key with a newline": {&pb.EncryptRequest{KeyId: "k", EncryptionContext: map[string]string{"a\nb": "v"}}, "encryption_context key"},
		"context key too long":       {&pb.EncryptRequest{KeyId: "k", EncryptionContext: map[string]string{long: "v"}}, "encryption_context key"},
		"filter key name":            {&pb.ListEventsRequest{Filter: &pb.EventFilter{KeyName: "x;y"}}, "filter.key_name"},
		"page token":                 {&pb.ListKeysRequest{PageToken: "../x"}, "page_token"},
		"acs url with a space":       {&pb.CreateAcsSessionRequest{KeyId: "k", AcsUrl: "https://a b"}, "acs_url"},
		"oversized bytes":            {&pb.DeriveSharedSecretRequest{KeyId: "k", Salt: make([]byte, 16<<10+1)}, "salt"},
		"oversized ciphertext":       {&pb.DecryptRequest{CiphertextBlob: make([]byte, 6145)}, "ciphertext_blob"},
	} {
		err := validateRequest(tc.req)
		if kgerr.KindOf(err) != kgerr.InvalidArgument || !strings.HasPrefix(kgerr.Message(err), tc.field+" ") {
			t.Errorf("%s: %v, want InvalidArgument naming %s", name, err, tc.field)
		}
	}
	for name, req := range map[string]proto.Message{
		"demo names":             &pb.SignRequest{KeyId: "3ds-sessions"},
		"a KMS-alias-like name":  &pb.SignRequest{KeyId: "issuer/av_mac-2"},
		"a 256-character name":   &pb.SignRequest{KeyId: strings.Repeat("k", 256)},
		"an EMVCo SDK reference": &pb.CreateAcsSessionRequest{KeyId: "k", SdkReferenceNumber: "A Dummy SDK Reference Number"},
		"a policy with newlines": &pb.PutKeyPolicyRequest{KeyId: "k", Policy: "{\n\t\"Version\": \"2012-10-17\"\r\n}"},
		"a description in é":     &pb.CreateKeyRequest{KeyId: "k", Description: "clé de signature ACS"},
		"any context value":      &pb.EncryptRequest{KeyId: "k", EncryptionContext: map[string]string{"tenant": "4111 1111\n"}},
	} {
		if err := validateRequest(req); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}

// Over the wire: a bad field is refused before the key is looked up, the
// refusal is audited with a key name that fits, and nothing is created.
func TestBadFieldsChangeNothing(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	admin := e.admin("admin")
	_, err := admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: strings.Repeat("k", 40<<10), KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC"})
	if status.Code(err) != codes.InvalidArgument || len(status.Convert(err).Message()) > 200 {
		t.Fatalf("40 KB key_id: %v", err)
	}
	ev := e.lastEvent("kms:CreateKey")
	if ev.Result != "InvalidArgument" || ev.KeyName != "" {
		t.Errorf("audited as %q with key name of %d bytes", ev.Result, len(ev.KeyName))
	}
	_, err = e.crypto("acs").Sign(ctx, &pb.SignRequest{KeyId: strings.Repeat("k", 40<<10), Message: []byte("m")})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Sign with a 40 KB key_id: %v", err)
	}
	if ev := e.lastEvent("kms:Sign"); ev.Result != "InvalidArgument" {
		t.Errorf("the refused Sign was not audited: %+v", ev)
	}
	list, err := admin.ListKeys(ctx, &pb.ListKeysRequest{})
	must(t, err)
	if len(list.Keys) != 1 || list.Keys[0].KeyId != "audit-checkpoint" {
		t.Errorf("keys after refusals: %v", list.Keys)
	}
}
