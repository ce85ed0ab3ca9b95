package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	p11 "github.com/miekg/pkcs11"
	"google.golang.org/grpc/codes"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// putAES puts an AES-256 key on the harness's token the way an operator
// would load one from a file (C_CreateObject with its value), and returns
// its CKA_ID in hex.
func putAES(t *testing.T, env *harness.Env, extractable bool) string {
	t.Helper()
	lib := p11.New(env.Token.Module) // the module keygated has loaded: shared, never finalised here
	if err := lib.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	slots, err := lib.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		if info, err := lib.GetTokenInfo(slot); err != nil || strings.TrimRight(info.Label, " ") != env.Token.Label {
			continue
		}
		s, err := lib.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer lib.CloseSession(s)
		if err := lib.Login(s, p11.CKU_USER, env.Token.PIN); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
			t.Fatal(err)
		}
		id, value := make([]byte, 16), make([]byte, 32)
		rand.Read(id)
		rand.Read(value)
		_, err = lib.CreateObject(s, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY), p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_PRIVATE, true), p11.NewAttribute(p11.CKA_ID, id),
			p11.NewAttribute(p11.CKA_ENCRYPT, true), p11.NewAttribute(p11.CKA_DECRYPT, true), p11.NewAttribute(p11.CKA_VALUE, value),
			p11.NewAttribute(p11.CKA_SENSITIVE, !extractable), p11.NewAttribute(p11.CKA_EXTRACTABLE, extractable),
		})
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(id)
	}
	t.Fatalf("no token %s", env.Token.Label)
	return ""
}

// TestAdoptImportedKey: an imported key is adopted with its provenance in
// the audit record (not local, and once readable: it was loaded from a
// value, not generated in the token); an extractable one is refused.
func TestAdoptImportedKey(t *testing.T) {
	// Adopting a backend key needs keygate:AdoptKey: the config's adopters.
	env := harness.Start(t, harness.Options{ExtraConfig: "adopters: [" + harness.ARN("admin") + "]\n"})
	ctx := context.Background()
	admin := env.Admin("admin")
	_, err := admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "pan-legacy", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT",
		BackendKeyId: putAES(t, env, false)}) // the default policy: admin adopts, grants itself no use
	if err != nil {
		t.Fatalf("adopt an imported, sensitive key: %v", err)
	}
	evs := events(t, env, &pb.EventFilter{KeyName: "pan-legacy", Action: "keygate:AdoptKey", Kind: "key.created"})
	if len(evs) != 1 || !strings.Contains(evs[0].Detail, "adopted backend key: CKA_LOCAL=false CKA_NEVER_EXTRACTABLE=false CKA_ALWAYS_SENSITIVE=false") {
		t.Fatalf("CreateKey event of the adopted key: %v", evs)
	}
	_, err = admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "pan-leaky", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT",
		BackendKeyId: putAES(t, env, true)})
	wantCode(t, err, codes.FailedPrecondition)
}
