package audit_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/audit"
	"github.com/keygate/keygate/audit/sqlstore"
	"github.com/keygate/keygate/internal/sqldb"
	"github.com/keygate/keygate/test/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// ecSigner is a software P-256 key standing in for the backend key the
// server adapts (a backends.Key with ECDSA_SHA_256).
type ecSigner struct{ k *ecdsa.PrivateKey }

func newSigner(t testing.TB) *ecSigner {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &ecSigner{k}
}

func (s *ecSigner) Sign(_ context.Context, digest []byte) ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, s.k, digest)
}
func (s *ecSigner) Public() crypto.PublicKey { return &s.k.PublicKey }

func verifier(t testing.TB, s audit.Signer) *audit.Verifier {
	v, err := audit.NewVerifier(s.Public())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// backend names a store kind the tests run on.
type backend struct {
	name string
	dsn  func(t testing.TB) string
}

var stores = []backend{
	{"sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "audit.db") }},
	// keygated's own arrangement: the chain in its SQLite database, written
	// by pipelined commits (sqldb.CommitPipelined).
	{"sqlite-keygated", func(t testing.TB) string { return sharedPrefix + filepath.Join(t.TempDir(), "keygate.db") }},
	{"postgres", func(t testing.TB) string { return pgtest.DSN(t) }},
}

// sharedPrefix marks a dsn as a SQLite file opened as keygated opens its
// store (sqldb.Open), the audit chain living in it (sqlstore.New).
const sharedPrefix = "keygated:"

func openStore(t testing.TB, dsn string) *sqlstore.Store {
	ctx := context.Background()
	if path, ok := strings.CutPrefix(dsn, sharedPrefix); ok {
		db, err := sqldb.Open(sqldb.SQLite, path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sqlstore.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); db.Close() })
		return s
	}
	s, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var secret = []byte("0123456789abcdef0123456789abcdef")

// newLog starts a log whose checkpoints the test makes by hand.
func newLog(t testing.TB, s audit.Store, sig audit.Signer, replica string) *audit.Log {
	l, err := audit.New(audit.Config{Store: s, Signer: sig, ContextSecret: secret, Replica: replica,
		CheckpointEvery: 1 << 30, CheckpointInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

// callEvent is a realistic event for call i.
func callEvent(l *audit.Log, i int) *audit.Event {
	return &audit.Event{
		Kind: audit.KindCall, Principal: "arn:aws:iam::111122223333:role/acs",
		CertSubject: "CN=acs-1,O=Issuer", CertSerial: "0a1b", CertURI: "spiffe://issuer/acs",
		Peer: "10.0.0.7:51234", Action: "kms:Sign", KeyName: fmt.Sprintf("key-%d", i%3), KeyVersion: 2,
		BackendKeyID: "arn:aws:kms:eu-west-1:111122223333:key/1234", BackendRequestID: fmt.Sprintf("req-%d", i),
		Algorithm: "ECDSA_SHA_256", Decision: "Allow", Sid: "AllowAcsSign", Result: audit.ResultOK,
		Latency: time.Duration(i) * time.Microsecond, Correlation: fmt.Sprintf("corr-%d", i),
		Context: l.HashContext(map[string]string{"acsTransID": fmt.Sprintf("tx-%d", i), "purpose": "creq"}),
	}
}

func record(t testing.TB, l *audit.Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Record(context.Background(), callEvent(l, i)); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
}

func checkpoint(t testing.TB, l *audit.Log) {
	t.Helper()
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
}

func verify(t testing.TB, s audit.Store, v *audit.Verifier) *audit.Report {
	t.Helper()
	r, err := audit.Verify(context.Background(), s, v)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return r
}

// isPostgres tells the raw-SQL helpers to use $n placeholders.
func isPostgres(dsn string) bool { return strings.HasPrefix(dsn, "postgres") }

// exec runs raw SQL as an attacker with write access to the database would.
func exec(t testing.TB, s *sqlstore.Store, pg bool, q string, args ...any) {
	t.Helper()
	if pg {
		var b strings.Builder
		n := 0
		for _, r := range q {
			if r == '?' {
				n++
				fmt.Fprintf(&b, "$%d", n)
				continue
			}
			b.WriteRune(r)
		}
		q = b.String()
	}
	if _, err := s.DB().ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
