package e2e

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/test/harness"
)

// Finding 7 of issue 16: each version's origin and, on PKCS#11, the
// token's CKA_LOCAL, CKA_NEVER_EXTRACTABLE and CKA_ALWAYS_SENSITIVE are
// stored with the version, shown by DescribeKey and the inventory, count
// for kms:KeyOrigin, and are part of the row the audit chain protects.
func TestVersionOrigins(t *testing.T) {
	env := harness.Start(t, harness.Options{ExtraConfig: "adopters: [" + harness.ARN("admin") + "]\n"})
	ctx := context.Background()
	admin := env.Admin("admin")
	inToken := &pb.TokenAttributes{Local: true, NeverExtractable: true, AlwaysSensitive: true}
	loaded := &pb.TokenAttributes{} // C_CreateObject with a value: not local, once readable

	env.CreateKey("made-here", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	if _, err := admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "made-here"}); err != nil {
		t.Fatal(err)
	}
	// Loaded from a value, and adopted: its material came from outside
	// the token, so its kms:KeyOrigin is EXTERNAL and a policy denying
	// imported material catches it.
	deny := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: harness.AdminActions},
		harness.Statement{Sid: "Services", Principals: []string{harness.ARN("acs")}, Actions: harness.DataActions},
		harness.Statement{Sid: "NoImportedMaterial", Deny: true, Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Encrypt"},
			Condition: map[string]map[string]any{"StringEquals": {"kms:KeyOrigin": "EXTERNAL"}}})
	if _, err := admin.CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "pan-legacy", KeySpec: "SYMMETRIC_DEFAULT", KeyUsage: "ENCRYPT_DECRYPT",
		BackendKeyId: putAES(t, env, false), Policy: deny}); err != nil {
		t.Fatal(err)
	}
	_, err := env.Crypto("acs").Encrypt(ctx, &pb.EncryptRequest{KeyId: "pan-legacy", Plaintext: []byte("x"),
		EncryptionContext: map[string]string{"t": "1"}})
	wantCode(t, err, codes.PermissionDenied)

	want := map[string][]struct {
		origin string
		attrs  *pb.TokenAttributes
	}{
		"made-here":  {{"GENERATED", inToken}, {"GENERATED", inToken}},
		"pan-legacy": {{"ADOPTED", loaded}},
	}
	check := func(where string, md *pb.KeyMetadata) {
		t.Helper()
		w := want[md.KeyId]
		if len(md.Versions) != len(w) {
			t.Fatalf("%s %s: %d versions, want %d", where, md.KeyId, len(md.Versions), len(w))
		}
		for i, v := range md.Versions {
			if v.Origin != w[i].origin || !proto.Equal(v.TokenAttributes, w[i].attrs) {
				t.Errorf("%s %s v%d: origin %q, token attributes %v; want %q, %v", where, md.KeyId, v.Version, v.Origin, v.TokenAttributes, w[i].origin, w[i].attrs)
			}
		}
	}
	for name := range want {
		d, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: name})
		if err != nil {
			t.Fatal(err)
		}
		check("DescribeKey", d.Key)
	}
	inv, err := pb.NewAuditServiceClient(env.Conn("admin")).GetInventory(ctx, &pb.GetInventoryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, k := range inv.Keys {
		if _, ok := want[k.Key.KeyId]; ok {
			check("GetInventory", k.Key)
			seen++
		}
	}
	if seen != len(want) {
		t.Fatalf("inventory holds %d of the %d keys", seen, len(want))
	}

	// The attributes are part of the row: making the adopted key look
	// generated in the token, in the database, gets the key refused.
	db, err := sql.Open("sqlite", env.Config.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE key_versions SET origin = 'GENERATED',
		token_attrs = '{"local":true,"never_extractable":true,"always_sensitive":true}' WHERE key_name = 'pan-legacy'`); err != nil {
		t.Fatal(err)
	}
	describe := func() error {
		_, err := admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "pan-legacy"})
		return err
	}
	// The replica re-reads the key within key_refresh (100ms); the
	// deadline is one no load reaches.
	deadline := time.Now().Add(2 * time.Minute)
	for err = describe(); err == nil && time.Now().Before(deadline); err = describe() {
		time.Sleep(20 * time.Millisecond)
	}
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "changed outside keygate") {
		t.Fatalf("DescribeKey after the edit: %v", err)
	}
}
