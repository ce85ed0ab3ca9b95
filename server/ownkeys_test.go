package server

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/backends"
	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
)

// keygated's own keys (the audit checkpoint key, and the config's
// own_keys) are usable by keygated alone: no principal may use or change
// them, whatever a policy says; looking at them stays allowed.
func TestOwnKeys(t *testing.T) {
	e := startEnv(t, "own_keys: [vault-seal]\n")
	ctx := context.Background()
	admin, adminCrypto := e.admin("admin"), e.crypto("admin")
	open := policyDoc(map[string][]string{arn("admin"): {"kms:*"}})
	_, err := admin.PutKeyPolicy(ctx, &pb.PutKeyPolicyRequest{KeyId: "audit-checkpoint", Policy: open, BypassPolicyLockoutSafetyCheck: true})
	wantCode(t, "rewrite the checkpoint key's policy", err, codes.PermissionDenied)
	_, err = adminCrypto.Sign(ctx, &pb.SignRequest{KeyId: "audit-checkpoint", Message: []byte("forged checkpoint")})
	wantCode(t, "sign with the checkpoint key", err, codes.PermissionDenied)
	_, err = admin.DisableKey(ctx, &pb.DisableKeyRequest{KeyId: "audit-checkpoint"})
	wantCode(t, "disable the checkpoint key", err, codes.PermissionDenied)
	if _, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "audit-checkpoint"}); err != nil {
		t.Errorf("describe the checkpoint key: %v", err)
	}
	_, err = admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "vault-seal", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", Policy: open})
	wantCode(t, "create a key named like an own key", err, codes.PermissionDenied)
	if ev := e.lastEvent("kms:PutKeyPolicy"); ev.Decision != "Deny" || ev.Sid != "keygate:OwnKey" {
		t.Errorf("the refusal was audited as %s/%s", ev.Decision, ev.Sid)
	}
}

// Adopting a backend key needs keygate:AdoptKey (the config's adopters),
// and a backend key that already serves a key cannot be adopted again.
func TestAdoptingABackendKey(t *testing.T) {
	e := startEnv(t, "adopters: ["+arn("admin")+"]\n")
	ctx := context.Background()
	pan := e.createKey("pan", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", policyDoc(map[string][]string{arn("acs"): {"kms:Encrypt", "kms:Decrypt"}}))
	id := pan.Versions[0].BackendKeyId
	// The default policy grants admin no use of the key: the adoption runs
	// at once rather than waiting for a second admin.
	shadow := &pb.CreateKeyRequest{KeyId: "shadow", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT", Backend: "mem", BackendKeyId: id}
	_, err := e.admin("admin").CreateKey(ctx, shadow)
	wantCode(t, "adopt pan's backend key", err, codes.AlreadyExists)
	_, err = e.admin("admin").DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "shadow"})
	wantCode(t, "the refused key", err, codes.NotFound)
	if ev := e.lastEvent("keygate:AdoptKey"); ev.Decision != "Allow" || ev.Result != "AlreadyExists" {
		t.Errorf("adoption audited as %s/%s", ev.Decision, ev.Result)
	}

	other := startEnv(t, "")
	_, err = other.admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "adopted", KeySpec: "HMAC_256", KeyUsage: "GENERATE_VERIFY_MAC", Backend: "mem", BackendKeyId: "00"})
	wantCode(t, "adopt without keygate:AdoptKey", err, codes.PermissionDenied)
}

// A ciphertext's key name and version are authenticated: the same blob
// presented as another key's (or version's) does not decrypt, even under
// the same backend key.
func TestCiphertextHeaderIsAuthenticated(t *testing.T) {
	e := startEnv(t, "")
	ctx := context.Background()
	e.createKey("pan", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", policyDoc(map[string][]string{arn("acs"): {"kms:Encrypt", "kms:Decrypt"}}))
	acs := e.crypto("acs")
	out, err := acs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "pan", Plaintext: []byte("4111111111111111")})
	must(t, err)
	if _, err := acs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: out.CiphertextBlob}); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	ct, err := keys.ParseCiphertext(out.CiphertextBlob)
	must(t, err)
	entry, err := e.srv.keys.Resolve(ctx, "pan")
	must(t, err)
	_, h, err := entry.Handle(1, false)
	must(t, err)
	for _, relabel := range []keys.Ciphertext{{Key: "shadow", Version: 1}, {Key: "pan", Version: 2}} {
		relabel.Algorithm, relabel.Blob = ct.Algorithm, ct.Blob
		_, err := h.Decrypt(ctx, ct.Algorithm, ct.Blob, relabel.Context(nil))
		if kgerr.KindOf(err) != kgerr.InvalidArgument || kgerr.Message(err) != backends.DecryptFailed {
			t.Errorf("blob relabelled %s v%d decrypted under pan's backend key: %v", relabel.Key, relabel.Version, err)
		}
	}
	_, err = acs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "pan", Plaintext: []byte("x"), EncryptionContext: map[string]string{keys.BoundKeyName: "other"}})
	wantCode(t, "a caller's context with a reserved key", err, codes.InvalidArgument)
}

func wantCode(t *testing.T, what string, err error, code codes.Code) {
	t.Helper()
	if status.Code(err) != code {
		t.Errorf("%s: %v, want %s", what, err, code)
	}
}
