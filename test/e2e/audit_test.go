package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	pb "github.com/keygate/keygate/proto/keygate/v1"
	"github.com/keygate/keygate/server"
	"github.com/keygate/keygate/test/harness"
	"github.com/keygate/keygate/test/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func events(t *testing.T, env *harness.Env, f *pb.EventFilter) []*pb.AuditEvent {
	t.Helper()
	resp, err := pb.NewAuditServiceClient(env.Conn("admin")).ListEvents(context.Background(), &pb.ListEventsRequest{Filter: f, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Events
}

func TestAuditRecordsEveryCall(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKeyWithPolicy("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY", harness.Policy(
		harness.Statement{Sid: "Admins", Principals: []string{harness.ARN("admin")}, Actions: []string{"kms:*"}},
		harness.Statement{Sid: "AcsSigns", Principals: []string{harness.ARN("acs")}, Actions: []string{"kms:Sign"}}))
	env.CreateKey("data-key", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "corr-123")
	if _, err := env.Crypto("acs").Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	_, err := env.Crypto("3ds-server").Sign(ctx, &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")})
	wantCode(t, err, codes.PermissionDenied)
	const pan = "4111111111111111"
	if _, err := env.Crypto("acs").Encrypt(ctx, &pb.EncryptRequest{KeyId: "data-key", Plaintext: []byte(pan),
		EncryptionContext: map[string]string{"cardholder": pan}}); err != nil {
		t.Fatal(err)
	}

	evs := events(t, env, &pb.EventFilter{Action: "kms:Sign"})
	if len(evs) != 2 {
		t.Fatalf("%d kms:Sign events, want the allowed and the denied one", len(evs))
	}
	ok, denied := evs[0], evs[1]
	if ok.Result != "OK" || ok.Principal != harness.ARN("acs") || ok.KeyName != "acs-signing" || ok.KeyVersion != 1 ||
		ok.Algorithm != "ECDSA_SHA_256" || ok.Decision != "Allow" || ok.Sid != "AcsSigns" || ok.CorrelationId != "corr-123" ||
		ok.CertUri != "spiffe://keygate.test/acs" || ok.CertSerial == "" || !strings.HasPrefix(ok.Peer, "127.0.0.1:") || ok.BackendKeyId == "" {
		t.Errorf("allowed Sign recorded as %+v", ok)
	}
	if denied.Result != "PermissionDenied" || denied.Decision != "ImplicitDeny" || denied.Principal != harness.ARN("3ds-server") {
		t.Errorf("denied Sign recorded as %+v", denied)
	}
	enc := events(t, env, &pb.EventFilter{Action: "kms:Encrypt"})
	if len(enc) != 1 || len(enc[0].EncryptionContext) != 1 || enc[0].EncryptionContext[0].Key != "cardholder" || len(enc[0].EncryptionContext[0].ValueHmac) != 64 {
		t.Fatalf("Encrypt recorded as %+v", enc)
	}
	created := events(t, env, &pb.EventFilter{Kind: "key.created"})
	if len(created) != 3 { // audit-checkpoint, acs-signing, data-key
		t.Errorf("%d key.created events, want 3", len(created))
	}

	// Online verification, then offline: stop the server (which seals the
	// log with a checkpoint) and verify the database file with nothing but
	// the checkpoint public key.
	av := pb.NewAuditServiceClient(env.Conn("admin"))
	v, err := av.VerifyLog(context.Background(), &pb.VerifyLogRequest{})
	if err != nil || !v.Ok || v.Events < 8 {
		t.Fatalf("VerifyLog: %+v %v", v, err)
	}
	key, err := av.GetCheckpointKey(context.Background(), &pb.GetCheckpointKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pb.NewAuditServiceClient(env.Conn("acs")).VerifyLog(context.Background(), &pb.VerifyLogRequest{})
	wantCode(t, err, codes.PermissionDenied)

	stopServer(t, env)
	db := env.Config.Store.DSN
	raw, _ := os.ReadFile(db)
	wal, _ := os.ReadFile(db + "-wal")
	if bytes.Contains(raw, []byte(pan)) || bytes.Contains(wal, []byte(pan)) {
		t.Fatal("the card number reached the database")
	}
	r, err := sqlstore.Verify(context.Background(), db, []byte(key.PublicKeyPem))
	if err != nil || !r.OK() || r.Unprotected != 0 {
		t.Fatalf("offline verify of an untouched log: %+v %v", r, err)
	}

	// Alter one event's body (written back in canonical form, which the
	// store accepts as a raw body): offline verification names its seq.
	ro, err := sqlstore.OpenReadOnly(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ro.Records(context.Background(), audit.Query{AfterSeq: ok.Seq - 1, Limit: 1})
	ro.Close()
	if err != nil || len(recs) != 1 {
		t.Fatalf("reading event %d: %v", ok.Seq, err)
	}
	body := bytes.Replace(recs[0].Body, []byte("acs-signing"), []byte("acs-signinG"), 1)
	if bytes.Equal(body, recs[0].Body) {
		t.Fatal("the event does not name the key")
	}
	conn, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`UPDATE audit_events SET body = ? WHERE seq = ?`, body, ok.Seq); err != nil {
		t.Fatal(err)
	}
	r, err = sqlstore.Verify(context.Background(), db, []byte(key.PublicKeyPem))
	if err != nil || r.OK() || r.First().Seq != ok.Seq {
		t.Fatalf("offline verify of an altered log: first problem %+v (want seq %d), %v", r.First(), ok.Seq, err)
	}
}

// stopServer shuts the server down before the test ends, as an operator
// stopping keygated would.
func stopServer(t *testing.T, env *harness.Env) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env.Server.Shutdown(ctx)
	if err := env.Server.Close(); err != nil {
		t.Fatal(err)
	}
}

// If the audit log cannot be written, crypto calls fail closed.
func TestAuditFailsClosed(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	cs := env.Crypto("acs")
	if _, err := cs.Sign(context.Background(), &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	conn, err := sql.Open("sqlite", env.Config.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`DROP TABLE audit_events`); err != nil {
		t.Fatal(err)
	}
	_, err = cs.Sign(context.Background(), &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")})
	wantCode(t, err, codes.Unavailable)
}

// Two keygated replicas on one PostgreSQL write one chain, and
// verification covers what both wrote.
func TestTwoReplicasShareOnePostgres(t *testing.T) {
	store := &server.StoreConfig{Driver: "postgres", DSN: pgtest.DSN(t)}
	a := harness.Start(t, harness.Options{Store: store, Replica: "replica-a"})
	b := harness.Start(t, harness.Options{Store: store, Replica: "replica-b", Token: &a.Token})
	a.CreateKey("acs-signing", "ECC_NIST_P256", "SIGN_VERIFY")
	var wg sync.WaitGroup
	for _, env := range []*harness.Env{a, b} {
		cs := env.Crypto("acs")
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if _, err := cs.Sign(context.Background(), &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	evs := events(t, b, &pb.EventFilter{Action: "kms:Sign"})
	seen := map[string]int{}
	for _, e := range evs {
		seen[e.Replica]++
	}
	if seen["replica-a"] != 40 || seen["replica-b"] != 40 {
		t.Fatalf("signs per replica: %v", seen)
	}
	v, err := pb.NewAuditServiceClient(a.Conn("admin")).VerifyLog(context.Background(), &pb.VerifyLogRequest{})
	if err != nil || !v.Ok || v.Events < 80 {
		t.Fatalf("VerifyLog over both replicas: %+v %v", v, err)
	}

	// A key disabled on one replica stops working on the other once its
	// cached copy is older than key_refresh (100ms in the harness).
	if _, err := a.Admin("admin").DisableKey(context.Background(), &pb.DisableKeyRequest{KeyId: "acs-signing"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := b.Crypto("acs").Sign(context.Background(), &pb.SignRequest{KeyId: "acs-signing", Message: []byte("m")})
		if status.Code(err) == codes.FailedPrecondition {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica b still signs with a key disabled on replica a: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Reading the log is recorded when a tail opens, not only when it ends,
// and the tail delivers events as they are committed.
func TestAuditTail(t *testing.T) {
	env := harness.Start(t, harness.Options{})
	env.CreateKey("av-mac", "HMAC_256", "GENERATE_VERIFY_MAC")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tail, err := pb.NewAuditServiceClient(env.Conn("admin")).TailEvents(ctx, &pb.TailEventsRequest{Filter: &pb.EventFilter{Action: "kms:GenerateMac"}})
	if err != nil {
		t.Fatal(err)
	}
	// The stream is open once the server has recorded the read.
	deadline := time.Now().Add(5 * time.Second)
	for {
		reads := events(t, env, &pb.EventFilter{Kind: "audit.read"})
		// The polls are audit reads too, and one may be recorded first.
		if slices.ContainsFunc(reads, func(e *pb.AuditEvent) bool {
			return e.Detail == "tail opened" && e.Principal == harness.ARN("admin")
		}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no audit.read event for the open tail: %+v", reads)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := env.Crypto("acs").GenerateMac(context.Background(), &pb.GenerateMacRequest{KeyId: "av-mac", Message: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	got, err := tail.Recv()
	if err != nil || got.Event.Action != "kms:GenerateMac" || got.Event.Principal != harness.ARN("acs") {
		t.Fatalf("tail: %+v %v", got, err)
	}
}
