package e2e

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/internal/kgerr"
	"github.com/keygate/keygate/keys"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/pgtest"
)

// testClock is a clock the test moves; nothing sleeps.
type testClock struct{ off atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// adminCrypto is the admin's crypto client (OpenPolicy gives admins kms:*,
// so also kms:ReEncryptFrom and kms:ReEncryptTo).
func adminCrypto(env *harness.Env) pb.CryptoServiceClient { return env.Crypto("admin") }

func wantState(t *testing.T, md *pb.KeyMetadata, want ...string) {
	t.Helper()
	if len(md.Versions) != len(want) {
		t.Fatalf("%d versions, want %d: %v", len(md.Versions), len(want), md.Versions)
	}
	for i, v := range md.Versions {
		if v.State != want[i] {
			t.Fatalf("version %d is %s, want %s", v.Version, v.State, want[i])
		}
	}
}

// wantRefused checks a refusal's code and that its message names what it must.
func wantRefused(t *testing.T, err error, code codes.Code, names string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), names) {
		t.Fatalf("got %v, want %v naming %q", err, code, names)
	}
}

// A symmetric key rotates on SoftHSM2: the new version is primary at once,
// the old one still decrypts until it is scheduled for deletion; the
// deletion is cancelled, scheduled again, and once its waiting period has
// passed on the test clock the object is gone from the token.
func TestLifecycleSymmetricSoftHSM(t *testing.T) {
	clock := &testClock{}
	env := harness.Start(t, harness.Options{ServerOptions: server.Options{Now: clock.now}})
	env.CreateKey("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	ctx := context.Background()
	admin, cs := env.Admin("admin"), env.Crypto("acs")
	ec := map[string]string{"acsTransID": "42"}
	old, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: []byte("4111111111111111"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}

	rot, err := admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "data-key"})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, rot.Key, "RETIRED", "ACTIVE")
	if rot.Version != 2 || rot.Key.PrimaryVersion != 2 || rot.Transition != "v2 (new) -> ACTIVE; v1 ACTIVE -> RETIRED" {
		t.Fatalf("rotation: version %d, primary %d, %q", rot.Version, rot.Key.PrimaryVersion, rot.Transition)
	}
	v1ID := rot.Key.Versions[0].BackendKeyId
	fresh, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: []byte("x"), EncryptionContext: ec})
	if err != nil || fresh.KeyVersion != 2 {
		t.Fatalf("encrypt after rotation: %v, version %d", err, fresh.GetKeyVersion())
	}
	decryptOld := func() error {
		_, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: old.CiphertextBlob, EncryptionContext: ec})
		return err
	}
	if err := decryptOld(); err != nil {
		t.Fatalf("a RETIRED version no longer decrypts: %v", err)
	}

	// The old ciphertext moves to the new version without its plaintext
	// leaving keygate; a caller without kms:ReEncryptFrom cannot.
	re, err := adminCrypto(env).ReEncrypt(ctx, &pb.ReEncryptRequest{CiphertextBlob: old.CiphertextBlob,
		SourceEncryptionContext: ec, DestinationEncryptionContext: ec})
	if err != nil || re.SourceKeyVersion != 1 || re.KeyVersion != 2 {
		t.Fatalf("re-encrypt: %v %v", re, err)
	}
	if pt, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: re.CiphertextBlob, EncryptionContext: ec}); err != nil ||
		string(pt.Plaintext) != "4111111111111111" || pt.KeyVersion != 2 {
		t.Fatalf("decrypt the re-encrypted ciphertext: %v %v", pt, err)
	}
	_, err = cs.ReEncrypt(ctx, &pb.ReEncryptRequest{CiphertextBlob: old.CiphertextBlob, SourceEncryptionContext: ec})
	wantCode(t, err, codes.PermissionDenied)

	// Transitions from the wrong state, bad input: refused, naming why.
	_, err = admin.RetireKeyVersion(ctx, &pb.RetireKeyVersionRequest{KeyId: "data-key", Version: 1})
	wantRefused(t, err, codes.FailedPrecondition, "version 1 is RETIRED")
	_, err = admin.ScheduleKeyVersionDeletion(ctx, &pb.ScheduleKeyVersionDeletionRequest{KeyId: "data-key", Version: 2})
	wantRefused(t, err, codes.FailedPrecondition, "version 2 is ACTIVE")
	_, err = admin.ScheduleKeyVersionDeletion(ctx, &pb.ScheduleKeyVersionDeletionRequest{KeyId: "data-key", Version: 1, PendingWindowInDays: 6})
	wantRefused(t, err, codes.InvalidArgument, "pending_window_in_days")
	_, err = admin.ActivateKeyVersion(ctx, &pb.ActivateKeyVersionRequest{KeyId: "data-key", Version: 9})
	wantRefused(t, err, codes.NotFound, "no version 9")
	_, err = admin.DestroyKeyVersion(ctx, &pb.DestroyKeyVersionRequest{KeyId: "data-key"})
	wantRefused(t, err, codes.InvalidArgument, "version is required")
	_, err = env.Admin("acs").RetireKeyVersion(ctx, &pb.RetireKeyVersionRequest{KeyId: "data-key", Version: 2})
	wantCode(t, err, codes.PermissionDenied)

	sched, err := admin.ScheduleKeyVersionDeletion(ctx, &pb.ScheduleKeyVersionDeletionRequest{KeyId: "data-key", Version: 1, PendingWindowInDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, sched.Key, "PENDING_DELETION", "ACTIVE")
	if sched.Key.Versions[0].DeletionTime == nil {
		t.Fatal("no deletion time")
	}
	wantRefused(t, decryptOld(), codes.FailedPrecondition, "PENDING_DELETION")
	_, err = admin.DestroyKeyVersion(ctx, &pb.DestroyKeyVersionRequest{KeyId: "data-key", Version: 1})
	wantRefused(t, err, codes.FailedPrecondition, "PENDING_DELETION until")
	if _, err := admin.CancelKeyVersionDeletion(ctx, &pb.CancelKeyVersionDeletionRequest{KeyId: "data-key", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if err := decryptOld(); err != nil {
		t.Fatalf("after the deletion was cancelled: %v", err)
	}

	if _, err := admin.ScheduleKeyVersionDeletion(ctx, &pb.ScheduleKeyVersionDeletionRequest{KeyId: "data-key", Version: 1, PendingWindowInDays: 7}); err != nil {
		t.Fatal(err)
	}
	clock.advance(7*24*time.Hour + time.Minute)
	des, err := admin.DestroyKeyVersion(ctx, &pb.DestroyKeyVersionRequest{KeyId: "data-key", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, des.Key, "DESTROYED", "ACTIVE")
	b, err := env.Server.Keyring().Backend("hsm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(ctx, v1ID, keys.SymmetricDefault, keys.EncryptDecrypt); kgerr.KindOf(err) != kgerr.NotFound {
		t.Fatalf("the destroyed version's object is still on the token: %v", err)
	}
	if n := env.Token.Objects(t, "data-key/v1"); n != 0 {
		t.Fatalf("%d objects of the destroyed version are on the token", n)
	}
	wantRefused(t, decryptOld(), codes.FailedPrecondition, "DESTROYED")
	if _, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: fresh.CiphertextBlob, EncryptionContext: ec}); err != nil {
		t.Fatalf("the primary after its predecessor was destroyed: %v", err)
	}
}

// An asymmetric key's new version waits in PENDING_ACTIVATION while the
// primary keeps signing; once activated it signs, and what each version
// signed verifies against that version.
func TestLifecycleSigningKey(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	ctx := context.Background()
	admin, cs := env.Admin("admin"), env.Crypto("acs")
	sign := func() *pb.SignResponse {
		t.Helper()
		r, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("acs signed content")})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	before := sign()
	rot, err := admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "acs-signing"})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, rot.Key, "ACTIVE", "PENDING_ACTIVATION")
	if s := sign(); s.KeyVersion != 1 {
		t.Fatalf("a PENDING_ACTIVATION version signed: version %d", s.KeyVersion)
	}
	_, err = admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "acs-signing"})
	wantRefused(t, err, codes.FailedPrecondition, "already PENDING_ACTIVATION")
	act, err := admin.ActivateKeyVersion(ctx, &pb.ActivateKeyVersionRequest{KeyId: "acs-signing", Version: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, act.Key, "RETIRED", "ACTIVE")
	after := sign()
	if after.KeyVersion != 2 {
		t.Fatalf("signed with version %d after activation", after.KeyVersion)
	}
	for _, s := range []*pb.SignResponse{before, after} {
		r, err := cs.Verify(ctx, &pb.VerifyRequest{KeyId: "acs-signing", KeyVersion: s.KeyVersion,
			Message: []byte("acs signed content"), Signature: s.Signature, SigningAlgorithm: s.SigningAlgorithm})
		if err != nil || !r.SignatureValid {
			t.Fatalf("version %d's signature: %v, %v", s.KeyVersion, r, err)
		}
	}
}

// Admins racing to rotate one key never both win on the same revision:
// each win is one version, and one version is ACTIVE.
func TestLifecycleRotationRace(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("av-mac", "HMAC_256", "GENERATE_VERIFY_MAC")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = env.Admin("admin").CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "av-mac"})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch status.Code(err) {
		case codes.OK:
			won++
		case codes.FailedPrecondition:
		default:
			t.Fatalf("a racing rotation failed otherwise: %v", err)
		}
	}
	d, err := env.Admin("admin").DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "av-mac"})
	if err != nil {
		t.Fatal(err)
	}
	if won < 1 || len(d.Key.Versions) != 1+won || d.Key.PrimaryVersion != uint32(1+won) {
		t.Fatalf("%d rotations won, key has %d versions, primary %d", won, len(d.Key.Versions), d.Key.PrimaryVersion)
	}
	active := 0
	for _, v := range d.Key.Versions {
		if v.State == "ACTIVE" {
			active++
		}
	}
	if active != 1 {
		t.Fatalf("%d ACTIVE versions after the race", active)
	}
}

// The same lifecycle on the KMS backend against test/kmsserver: a
// symmetric key and an ECC key rotate; scheduling a version's deletion
// schedules the KMS key's with the same waiting period, and cancelling it
// leaves the KMS key enabled, so the RETIRED version still decrypts.
func TestLifecycleKMS(t *testing.T) {
	env, _ := startWithKMS(t)
	ctx := context.Background()
	admin, cs := env.Admin("admin"), env.Crypto("acs")
	pol := harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*", "keygate:*"}},
		harness.Statement{Sid: "KeygatedUsesAndManagesTheKey", Principals: []string{keygatedRole}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "Services", Principals: []string{harness.ARN("acs")}, Actions: harness.DataActions})
	for _, k := range []struct{ name, spec, usage string }{
		{"kms-data", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"}, {"kms-sign", "ECC_NIST_P256", "SIGN_VERIFY"}} {
		env.CreateKeyApproved(&pb.CreateKeyRequest{KeyId: k.name, KeySpec: k.spec, KeyUsage: k.usage, Backend: "kms", Policy: pol})
	}
	old, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "kms-data", Plaintext: []byte("pan")})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "kms-data"})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, rot.Key, "RETIRED", "ACTIVE")
	if rot.Key.Versions[0].BackendKeyId == rot.Key.Versions[1].BackendKeyId || !strings.HasPrefix(rot.Key.Versions[1].BackendKeyId, "arn:aws:kms:") {
		t.Fatalf("the new version is not a new KMS key: %v", rot.Key.Versions)
	}
	sched, err := admin.ScheduleKeyVersionDeletion(ctx, &pb.ScheduleKeyVersionDeletionRequest{KeyId: "kms-data", Version: 1, PendingWindowInDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	if got := sched.Key.Versions[0].BackendState; got != "PendingDeletion" {
		t.Fatalf("the KMS key of a PENDING_DELETION version is %s", got)
	}
	canc, err := admin.CancelKeyVersionDeletion(ctx, &pb.CancelKeyVersionDeletionRequest{KeyId: "kms-data", Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := canc.Key.Versions[0].BackendState; got != "Enabled" {
		t.Fatalf("the KMS key after the deletion was cancelled is %s", got)
	}
	if _, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: old.CiphertextBlob}); err != nil {
		t.Fatalf("the RETIRED KMS version no longer decrypts: %v", err)
	}

	// From a PKCS#11 key to a KMS key, the plaintext staying in keygate.
	env.CreateKey("hsm-data", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	hct, err := cs.Encrypt(ctx, &pb.EncryptRequest{KeyId: "hsm-data", Plaintext: []byte("moving")})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := env.Crypto("admin").ReEncrypt(ctx, &pb.ReEncryptRequest{CiphertextBlob: hct.CiphertextBlob, DestinationKeyId: "kms-data"})
	if err != nil || moved.KeyId != "kms-data" || moved.KeyVersion != 2 {
		t.Fatalf("re-encrypt from PKCS#11 to KMS: %v %v", moved, err)
	}
	if pt, err := cs.Decrypt(ctx, &pb.DecryptRequest{CiphertextBlob: moved.CiphertextBlob}); err != nil || string(pt.Plaintext) != "moving" {
		t.Fatalf("decrypt under KMS: %v %v", pt, err)
	}

	before, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "kms-sign", Message: []byte("m")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "kms-sign"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ActivateKeyVersion(ctx, &pb.ActivateKeyVersionRequest{KeyId: "kms-sign", Version: 2}); err != nil {
		t.Fatal(err)
	}
	after, err := cs.Sign(ctx, &pb.SignRequest{KeyId: "kms-sign", Message: []byte("m")})
	if err != nil || after.KeyVersion != 2 {
		t.Fatalf("sign after activation: %v, version %d", err, after.GetKeyVersion())
	}
	for _, s := range []*pb.SignResponse{before, after} {
		r, err := cs.Verify(ctx, &pb.VerifyRequest{KeyId: "kms-sign", KeyVersion: s.KeyVersion, Message: []byte("m"),
			Signature: s.Signature, SigningAlgorithm: s.SigningAlgorithm})
		if err != nil || !r.SignatureValid {
			t.Fatalf("version %d's signature: %v, %v", s.KeyVersion, r, err)
		}
	}
}

// Automatic rotation with two replicas on one PostgreSQL: when the period
// has passed (on the test clock), both look at once and exactly one
// rotates, holding the store's lease; the other replica then encrypts
// under the new version once its cache refreshes.
func TestAutomaticRotationOneReplica(t *testing.T) {
	clock := &testClock{}
	store := &server.StoreConfig{Driver: "postgres", DSN: pgtest.DSN(t)}
	a := harness.Start(t, harness.Options{Store: store, Replica: "a", ServerOptions: server.Options{Now: clock.now}})
	b := harness.Start(t, harness.Options{Store: store, Replica: "b", Token: &a.Token, ServerOptions: server.Options{Now: clock.now}})
	ctx := context.Background()
	a.CreateKeyApproved(&pb.CreateKeyRequest{KeyId: "data-key", KeySpec: "SYMMETRIC_DEFAULT",
		KeyUsage: "ENCRYPT_DECRYPT", Policy: harness.OpenPolicy(), RotationPeriodInDays: 90})
	_, err := a.Admin("admin").CreateKey(ctx, &pb.CreateKeyRequest{KeyId: "signing", KeySpec: "ECC_NIST_P256",
		KeyUsage: "SIGN_VERIFY", Policy: harness.OpenPolicy(), RotationPeriodInDays: 90})
	wantRefused(t, err, codes.InvalidArgument, "rotation_period_in_days applies to SYMMETRIC_DEFAULT and HMAC keys")
	_, err = a.Admin("admin").UpdateKeyRotation(ctx, &pb.UpdateKeyRotationRequest{KeyId: "data-key", RotationPeriodInDays: ptr[uint32](3000)})
	wantRefused(t, err, codes.InvalidArgument, "between 90 and 2560")

	a.Server.Tick(ctx) // not due yet
	clock.advance(91 * 24 * time.Hour)
	var wg sync.WaitGroup
	var rotators atomic.Int32
	for _, env := range []*harness.Env{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if env.Server.Tick(ctx) {
				rotators.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := rotators.Load(); n != 1 {
		t.Fatalf("%d replicas held the rotation lease at once", n)
	}
	d, err := b.Admin("admin").DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "data-key"})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, d.Key, "RETIRED", "ACTIVE")
	for _, env := range []*harness.Env{a, b} {
		r, err := env.Crypto("acs").Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: []byte("x")})
		if err != nil || r.KeyVersion != 2 {
			t.Fatalf("encrypt after the automatic rotation: %v, version %d", err, r.GetKeyVersion())
		}
	}
	evs := events(t, a, &pb.EventFilter{KeyName: "data-key", Action: "keygate:CreateKeyVersion"})
	if len(evs) != 1 || !strings.HasPrefix(evs[0].Principal, "keygated:") {
		t.Fatalf("automatic rotation events: %v", evs)
	}
}

func ptr[T any](v T) *T { return &v }

// Once a deletion's waiting period is over, keygated destroys the version
// itself (as KMS deletes a key at the end of its wait): the object is gone
// from the token with no one calling destroy.
func TestScheduledDestruction(t *testing.T) {
	clock := &testClock{}
	env := harness.Start(t, harness.Options{ServerOptions: server.Options{Now: clock.now}})
	env.CreateKey("av-mac", "HMAC_256", "GENERATE_VERIFY_MAC")
	ctx := context.Background()
	admin := env.Admin("admin")
	must(admin.CreateKeyVersion(ctx, &pb.CreateKeyVersionRequest{KeyId: "av-mac"}))
	must(admin.ScheduleKeyVersionDeletion(ctx, &pb.ScheduleKeyVersionDeletionRequest{KeyId: "av-mac", Version: 1, PendingWindowInDays: 7}))
	clock.advance(6 * 24 * time.Hour)
	env.Server.Tick(ctx)
	if n := env.Token.Objects(t, "av-mac/v1"); n != 1 {
		t.Fatalf("destroyed before its waiting period ended: %d objects", n)
	}
	clock.advance(24*time.Hour + time.Minute)
	env.Server.Tick(ctx)
	wantState(t, must(admin.DescribeKey(ctx, &pb.DescribeKeyRequest{KeyId: "av-mac"})).Key, "DESTROYED", "ACTIVE")
	if n := env.Token.Objects(t, "av-mac/v1"); n != 0 {
		t.Fatalf("%d objects left after the scheduled destruction", n)
	}
	evs := events(t, env, &pb.EventFilter{KeyName: "av-mac", Action: "keygate:DestroyKeyVersion"})
	if len(evs) != 1 || !strings.HasPrefix(evs[0].Principal, "keygated:") || !strings.Contains(evs[0].Detail, "v1 PENDING_DELETION -> DESTROYED") {
		t.Fatalf("destruction events: %v", evs)
	}
}
